#!/usr/bin/python3
"""A CQL native protocol v4 test server on 127.0.0.1, built on the protocol
module of python3-cassandra (the DataStax driver), for output.cassandra's
tests and benchmark. Not Cassandra: enough of it to check a client.

- Every request frame is decoded with the driver's read_* helpers, rebuilt
  as the driver's own message object (StartupMessage, AuthResponseMessage,
  QueryMessage, PrepareMessage, ExecuteMessage, BatchMessage, ...) and
  encoded again with the driver's ProtocolHandler.encode_message: the bytes
  must equal what the client sent (counted: compared, mismatches).
- Answers READY, AUTHENTICATE / AUTH_SUCCESS (PasswordAuthenticator, with
  --auth user:password), SUPPORTED, RESULT Void / Set_keyspace /
  Schema_change / Prepared (bind metadata with the table's types and
  partition key indexes) / Rows (SELECT * FROM ks.t), and ERRORs like
  Cassandra's: Syntax_error for statements it does not know, Invalid for
  an unknown table, a value of the wrong size or a null key, Unprepared for
  a statement id it does not know (after a restart).
- Keeps the rows of INSERTs as upserts by primary key, journaled to
  --journal before the answer, so a server killed and started again on the
  same journal still has every row it acknowledged (Cassandra's commit log).
- Faults: --fault KIND@N[,M...] answers the Nth write request (EXECUTE or
  BATCH, counted from 1 over the server's life) with KIND: unavailable,
  write_timeout, overloaded, syntax, invalid, unprepared, close (drops the
  connection without answering), die (the process exits at once: a crash). --fault KIND@prepare answers PREPAREs.
- Prints "PORT n" when listening; on SIGTERM/SIGINT writes --stats as JSON
  (requests by opcode, compared, mismatches, writes, rows) and exits.

- --sink (benchmarks): EXECUTE and BATCH are answered Void unread.

Usage: cql_server.py [--port P] [--journal F] [--stats F] [--auth u:p]
                     [--fault ...] [--no-compare] [--sink]
Also a module: load_journal(path) gives the tables and their rows."""
import argparse, hashlib, io, json, os, re, signal, socket, struct, sys, threading

from cassandra import protocol as P
from cassandra.query import BatchType

TYPES = {"text": 0x0D, "varchar": 0x0D, "ascii": 0x01, "bigint": 0x02, "blob": 0x03,
         "boolean": 0x04, "counter": 0x05, "decimal": 0x06, "double": 0x07, "float": 0x08,
         "int": 0x09, "timestamp": 0x0B, "uuid": 0x0C, "varint": 0x0E, "timeuuid": 0x0F,
         "inet": 0x10, "date": 0x11, "time": 0x12, "smallint": 0x13, "tinyint": 0x14}
SIZES = {0x02: 8, 0x04: 1, 0x05: 8, 0x07: 8, 0x08: 4, 0x09: 4, 0x0B: 8, 0x0C: 16, 0x0F: 16,
         0x11: 4, 0x12: 8, 0x13: 2, 0x14: 1}
ERR = {"unavailable": 0x1000, "overloaded": 0x1001, "write_timeout": 0x1100, "syntax": 0x2000,
       "invalid": 0x2200, "unprepared": 0x2500, "server": 0x0000}
BATCH_TYPES = {0: BatchType.LOGGED, 1: BatchType.UNLOGGED, 2: BatchType.COUNTER}


def decode_value(code, raw):
    """A [value] of a column type as Python (inet as text, timestamps as ms)."""
    if raw is None:
        return None
    if code == 0x0B:
        return struct.unpack(">q", raw)[0]
    if code == 0x10:
        import ipaddress
        return str(ipaddress.ip_address(raw))
    if code == 0x03:
        return raw.hex()
    v = P.ResultMessage.type_codes[code].from_binary(raw, 4)
    return v


class Table:
    def __init__(self, ks, name, cols, pk, ck):
        self.ks, self.name, self.cols, self.pk, self.ck = ks, name, cols, pk, ck
        self.rows = {}

    def key(self, row):
        names = [c for c, _ in self.cols]
        return tuple(row[names.index(k)] for k in self.pk + self.ck)


def split_top(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def parse_create_table(q):
    m = re.match(r"\s*CREATE TABLE (IF NOT EXISTS )?(\w+)\.(\w+)\s*\((.*)\)\s*;?\s*$", q, re.S | re.I)
    if not m:
        return None
    cols, pk, ck = [], [], []
    for item in split_top(m.group(4)):
        pm = re.match(r"PRIMARY KEY\s*\((.*)\)$", item, re.S | re.I)
        if pm:
            parts = split_top(pm.group(1))
            first = parts[0].strip()
            pk = [x.strip().lower() for x in first.strip("()").split(",")]
            ck = [x.strip().lower() for x in parts[1:]]
            continue
        nm = item.split()
        if len(nm) != 2 or nm[1].lower() not in TYPES:
            raise ValueError(f"unsupported column definition {item!r}")
        cols.append((nm[0].lower(), TYPES[nm[1].lower()]))
    if not pk:
        raise ValueError("no PRIMARY KEY")
    names = [c for c, _ in cols]
    for k in pk + ck:
        if k not in names:
            raise ValueError(f"unknown primary key column {k}")
    return m.group(2).lower(), m.group(3).lower(), cols, pk, ck, bool(m.group(1))


class CqlError(Exception):
    def __init__(self, code, msg, extra=b""):
        super().__init__(msg)
        self.code, self.msg, self.extra = code, msg, extra


def error_body(code, msg, extra=b""):
    f = io.BytesIO()
    P.write_int(f, code)
    P.write_string(f, msg)
    f.write(extra)
    return f.getvalue()


def fault_error(kind):
    f = io.BytesIO()
    if kind == "unavailable":
        P.write_short(f, 1); P.write_int(f, 1); P.write_int(f, 0)
        return CqlError(ERR[kind], "Cannot achieve consistency level ONE", f.getvalue())
    if kind == "write_timeout":
        P.write_short(f, 1); P.write_int(f, 0); P.write_int(f, 1); P.write_string(f, "SIMPLE")
        return CqlError(ERR[kind], "Operation timed out - received only 0 responses.", f.getvalue())
    if kind == "syntax":
        return CqlError(ERR[kind], "line 1:0 no viable alternative at input 'INSRT' (injected)")
    if kind == "invalid":
        return CqlError(ERR[kind], "Invalid value (injected)")
    if kind == "overloaded":
        return CqlError(ERR[kind], "Overloaded (injected)")
    if kind == "unprepared":
        P.write_short(f, 16); f.write(b"\0" * 16)
        return CqlError(ERR[kind], "Prepared query not found (injected)", f.getvalue())
    raise ValueError(kind)


class Server:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.keyspaces, self.tables, self.prepared = set(), {}, {}
        self.requests, self.compared, self.mismatches = {}, 0, []
        self.writes, self.inserts, self.faults_fired = 0, 0, []
        self.faults = {}
        for spec in args.fault or []:
            kind, _, at = spec.partition("@")
            for n in at.split(","):
                self.faults[n if n == "prepare" else int(n)] = kind
        self.journal = None
        if args.journal:
            if os.path.exists(args.journal):
                replay(self, args.journal)
            self.journal = open(args.journal, "a")

    # ---- journal ---------------------------------------------------------
    def log(self, rec):
        if self.journal:
            self.journal.write(json.dumps(rec) + "\n")
            self.journal.flush()

    # ---- statements --------------------------------------------------------
    def query(self, q):
        qs = q.strip().rstrip(";")
        m = re.match(r"CREATE KEYSPACE (IF NOT EXISTS )?(\w+)\s+WITH\s+replication\s*=\s*\{.*\}\s*$",
                     qs, re.S | re.I)
        if m:
            ks = m.group(2).lower()
            if ks in self.keyspaces:
                if not m.group(1):
                    raise CqlError(0x2400, f"Keyspace {ks} already exists", P_strings(ks, ""))
                return result_void()
            self.keyspaces.add(ks)
            self.log({"keyspace": ks})
            return schema_change("CREATED", "KEYSPACE", ks)
        if re.match(r"CREATE TABLE", qs, re.I):
            try:
                p = parse_create_table(qs)
            except ValueError as e:
                raise CqlError(0x2200, str(e))
            if not p:
                raise CqlError(0x2000, "line 1:13 mismatched input in CREATE TABLE")
            ks, name, cols, pk, ck, ine = p
            if ks not in self.keyspaces:
                raise CqlError(0x2200, f"Keyspace '{ks}' does not exist")
            if f"{ks}.{name}" in self.tables:
                if not ine:
                    raise CqlError(0x2400, f"Table {ks}.{name} already exists", P_strings(ks, name))
                return result_void()
            self.tables[f"{ks}.{name}"] = Table(ks, name, cols, pk, ck)
            self.log({"table": qs})
            return schema_change("CREATED", "TABLE", ks, name)
        m = re.match(r"USE (\w+)$", qs, re.I)
        if m:
            if m.group(1).lower() not in self.keyspaces:
                raise CqlError(0x2200, f"Keyspace '{m.group(1)}' does not exist")
            f = io.BytesIO(); P.write_int(f, 3); P.write_string(f, m.group(1).lower())
            return f.getvalue()
        m = re.match(r"SELECT \* FROM (\w+)\.(\w+)$", qs, re.I)
        if m:
            t = self.table(m.group(1), m.group(2))
            return rows_result(t)
        raise CqlError(0x2000, f"line 1:0 no viable alternative at input '{qs.split()[0] if qs else ''}'")

    def table(self, ks, name):
        t = self.tables.get(f"{ks.lower()}.{name.lower()}")
        if not t:
            raise CqlError(0x2200, f"unconfigured table {name.lower()}")
        return t

    def prepare(self, q):
        m = re.match(r"\s*INSERT INTO (\w+)\.(\w+)\s*\(([^)]*)\)\s*VALUES\s*\(([^)]*)\)\s*;?\s*$", q, re.I)
        if not m:
            raise CqlError(0x2000, "line 1:0 no viable alternative (only INSERT INTO ks.t (...) VALUES (?, ...) is prepared here)")
        t = self.table(m.group(1), m.group(2))
        names = [c.strip().lower() for c in m.group(3).split(",")]
        marks = [v.strip() for v in m.group(4).split(",")]
        if len(names) != len(marks) or any(v != "?" for v in marks):
            raise CqlError(0x2200, "Unmatched column names/values")
        tcols = dict(t.cols)
        for n in names:
            if n not in tcols:
                raise CqlError(0x2200, f"Undefined column name {n}")
        for k in t.pk + t.ck:
            if k not in names:
                raise CqlError(0x2200, f"Some primary key parts are missing: {k}")
        qid = hashlib.md5(q.encode()).digest()
        self.prepared[qid] = (t, names)
        f = io.BytesIO()
        P.write_int(f, 4)
        P.write_short(f, len(qid)); f.write(qid)
        P.write_int(f, 1)                       # flags: global table spec
        P.write_int(f, len(names))
        P.write_int(f, len(t.pk))
        for k in t.pk:
            P.write_short(f, names.index(k))
        P.write_string(f, t.ks); P.write_string(f, t.name)
        for n in names:
            P.write_string(f, n); P.write_short(f, tcols[n])
        P.write_int(f, 4); P.write_int(f, 0)    # result metadata: no metadata, 0 columns
        return f.getvalue()

    def insert(self, qid, values):
        if qid not in self.prepared:
            f = io.BytesIO(); P.write_short(f, len(qid)); f.write(qid)
            raise CqlError(0x2500, f"Prepared query with ID {qid.hex()} not found", f.getvalue())
        t, names = self.prepared[qid]
        tcols = dict(t.cols)
        if len(values) != len(names):
            raise CqlError(0x2200, f"There were {len(names)} markers(?) in CQL but {len(values)} bound variables")
        row = [None] * len(t.cols)
        cnames = [c for c, _ in t.cols]
        for n, v in zip(names, values):
            code = tcols[n]
            if v is None and n in t.pk + t.ck:
                raise CqlError(0x2200, f"Invalid null value in condition for column {n}")
            if v is not None and code in SIZES and len(v) not in (0, SIZES[code]):
                raise CqlError(0x2200, f"Expected {SIZES[code]} or 0 byte value for column {n} ({len(v)})")
            if v is not None and code == 0x0D:
                try:
                    v.decode("utf-8")
                except UnicodeDecodeError:
                    raise CqlError(0x0000, f"Invalid UTF-8 bytes for column {n}")
            if v is not None and code == 0x10 and len(v) not in (4, 16):
                raise CqlError(0x2200, f"Invalid inet of {len(v)} bytes for column {n}")
            row[cnames.index(n)] = v
        return t, row

    def apply(self, t, rows):
        for row in rows:
            k = t.key(row)
            t.rows[k] = row
            self.inserts += 1
        self.log({"rows": f"{t.ks}.{t.name}",
                  "v": [[None if x is None else x.hex() for x in r] for r in rows]})

    def stats(self):
        with self.lock:
            return {"requests": self.requests, "compared": self.compared,
                    "mismatches": self.mismatches[:20], "n_mismatches": len(self.mismatches),
                    "writes": self.writes, "inserts": self.inserts, "faults": self.faults_fired,
                    "rows": {k: len(t.rows) for k, t in self.tables.items()}}


def P_strings(a, b):
    f = io.BytesIO(); P.write_string(f, a); P.write_string(f, b)
    return f.getvalue()


VOID = struct.pack(">i", 1)


def result_void():
    f = io.BytesIO(); P.write_int(f, 1)
    return f.getvalue()


def schema_change(change, target, ks, name=None):
    f = io.BytesIO()
    P.write_int(f, 5); P.write_string(f, change); P.write_string(f, target); P.write_string(f, ks)
    if name is not None:
        P.write_string(f, name)
    return f.getvalue()


def rows_result(t):
    f = io.BytesIO()
    P.write_int(f, 2); P.write_int(f, 1); P.write_int(f, len(t.cols))
    P.write_string(f, t.ks); P.write_string(f, t.name)
    for n, code in t.cols:
        P.write_string(f, n); P.write_short(f, code)
    P.write_int(f, len(t.rows))
    for row in t.rows.values():
        for v in row:
            P.write_value(f, v)
    return f.getvalue()


def replay(srv, path):
    for line in open(path):
        try:
            rec = json.loads(line)
        except ValueError:
            continue   # a line cut by a kill
        if "keyspace" in rec:
            srv.keyspaces.add(rec["keyspace"])
        elif "table" in rec:
            ks, name, cols, pk, ck, _ = parse_create_table(rec["table"])
            srv.tables.setdefault(f"{ks}.{name}", Table(ks, name, cols, pk, ck))
        elif "rows" in rec:
            t = srv.tables[rec["rows"]]
            for r in rec["v"]:
                row = [None if x is None else bytes.fromhex(x) for x in r]
                t.rows[t.key(row)] = row


def load_journal(path):
    """{"ks.t": {"columns": [(name, code)], "rows": [{name: value}]}} from a journal."""
    class A:
        journal = None; fault = None
    srv = Server.__new__(Server)
    srv.keyspaces, srv.tables = set(), {}
    replay(srv, path)
    out = {}
    for k, t in srv.tables.items():
        out[k] = {"columns": t.cols, "pk": t.pk, "ck": t.ck,
                  "rows": [{n: decode_value(c, v) for (n, c), v in zip(t.cols, row)}
                           for row in t.rows.values()]}
    return out


# ---- requests: decode with the driver's helpers, re-encode, compare -----------
def read_params(f, flags):
    vals = None
    if flags & 0x01:
        vals = [P.read_value(f) for _ in range(P.read_short(f))]
    fetch = P.read_int(f) if flags & 0x04 else None
    paging = P.read_binary_longstring(f) if flags & 0x08 else None
    serial = P.read_consistency_level(f) if flags & 0x10 else None
    ts = struct.unpack(">q", f.read(8))[0] if flags & 0x20 else None
    return vals, fetch, paging, serial, ts


def rebuild(opcode, body):
    """The driver's message for this request, and what the server needs."""
    f = io.BytesIO(body)
    if opcode == 0x01:
        opts = P.read_stringmap(f)
        ver = opts.pop("CQL_VERSION", None)
        msg = P.StartupMessage(cqlversion=ver, options=opts)
        info = ver
    elif opcode == 0x05:
        msg, info = P.OptionsMessage(), None
    elif opcode == 0x0F:
        tok = P.read_binary_longstring(f)
        msg, info = P.AuthResponseMessage(tok), tok
    elif opcode == 0x07:
        q = P.read_longstring(f)
        cl = P.read_consistency_level(f)
        flags = P.read_byte(f) & 0xff
        vals, fetch, paging, serial, ts = read_params(f, flags)
        msg = P.QueryMessage(q, cl, serial_consistency_level=serial, fetch_size=fetch,
                             paging_state=paging, timestamp=ts)
        msg.query_params = vals
        info = q
    elif opcode == 0x09:
        q = P.read_longstring(f)
        msg, info = P.PrepareMessage(q), q
    elif opcode == 0x0A:
        qid = P.read_binary_string(f)
        cl = P.read_consistency_level(f)
        flags = P.read_byte(f) & 0xff
        vals, fetch, paging, serial, ts = read_params(f, flags)
        msg = P.ExecuteMessage(qid, vals, cl, serial_consistency_level=serial, fetch_size=fetch,
                               paging_state=paging, timestamp=ts, skip_meta=bool(flags & 0x02))
        info = (cl, [(qid, vals)])
    elif opcode == 0x0D:
        btype = P.read_byte(f) & 0xff
        stmts = []
        for _ in range(P.read_short(f)):
            kind = P.read_byte(f)
            sid = P.read_binary_string(f) if kind == 1 else P.read_longstring(f)
            vals = [P.read_value(f) for _ in range(P.read_short(f))]
            stmts.append((kind == 1, sid, vals))
        cl = P.read_consistency_level(f)
        flags = P.read_byte(f) & 0xff
        serial = P.read_consistency_level(f) if flags & 0x10 else None
        ts = struct.unpack(">q", f.read(8))[0] if flags & 0x20 else None
        msg = P.BatchMessage(BATCH_TYPES[btype], stmts, cl, serial_consistency_level=serial,
                             timestamp=ts)
        info = (cl, [(s[1], s[2]) for s in stmts], btype, [s[0] for s in stmts])
    else:
        raise CqlError(0x000A, f"unsupported opcode 0x{opcode:02x}")
    if f.read(1):
        raise CqlError(0x000A, "bytes left after the request body")
    return msg, info


class Conn(threading.Thread):
    def __init__(self, srv, sock):
        super().__init__(daemon=True)
        self.srv, self.sock, self.ready, self.authed = srv, sock, False, False

    def send(self, stream, opcode, body):
        hdr = struct.pack(">BBhBi", 0x84, 0, stream, opcode, len(body))
        self.sock.sendall(hdr + body)

    def recv_exact(self, n):
        b = b""
        while len(b) < n:
            c = self.sock.recv(n - len(b))
            if not c:
                raise EOFError
            b += c
        return b

    def run(self):
        try:
            while True:
                hdr = self.recv_exact(9)
                ver, flags, stream, opcode, length = struct.unpack(">BBhBi", hdr)
                body = self.recv_exact(length) if length else b""
                if ver != 0x04:
                    # what Cassandra does for a version it does not speak
                    self.send(stream, 0x00, error_body(0x000A, "Invalid or unsupported protocol version (%d); supported versions are (3/v3, 4/v4, 5/v5)" % ver))
                    continue
                if self.srv.args.sink and opcode in (0x0A, 0x0D):
                    # the benchmark's sink: writes answered unread, so the
                    # client's own cost shows (Python decoding is slower)
                    self.srv.writes += 1
                    self.send(stream, 0x08, VOID)
                    continue
                if self.handle(stream, flags, opcode, hdr + body, body) == "close":
                    break
        except (EOFError, ConnectionError, OSError):
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    def handle(self, stream, flags, opcode, frame, body):
        srv = self.srv
        try:
            msg, info = rebuild(opcode, body)
            again = P.ProtocolHandler.encode_message(msg, stream, 4, None, False)
            with srv.lock:
                srv.requests[msg.name] = srv.requests.get(msg.name, 0) + 1
                if not srv.args.no_compare:
                    srv.compared += 1
                    if again != frame:
                        srv.mismatches.append({"opcode": opcode, "sent": frame.hex()[:400],
                                               "driver": again.hex()[:400]})
            with srv.lock:
                return self.answer(stream, opcode, info)
        except CqlError as e:
            self.send(stream, 0x00, error_body(e.code, e.msg, e.extra))
        except Exception as e:   # a malformed request: a protocol error, as Cassandra answers
            self.send(stream, 0x00, error_body(0x000A, f"malformed request: {e}"))

    def answer(self, stream, opcode, info):
        srv = self.srv
        if opcode == 0x01:
            if info != "3.0.0":
                raise CqlError(0x000A, f"unsupported CQL_VERSION {info}")
            if srv.args.auth:
                self.send(stream, 0x03, P_string("org.apache.cassandra.auth.PasswordAuthenticator"))
            else:
                self.ready = True
                self.send(stream, 0x02, b"")
            return
        if opcode == 0x05:
            f = io.BytesIO()
            P.write_stringmultimap(f, {"CQL_VERSION": ["3.4.5"], "COMPRESSION": [],
                                       "PROTOCOL_VERSIONS": ["4/v4"]})
            self.send(stream, 0x06, f.getvalue())
            return
        if opcode == 0x0F:
            if info != b"\0" + srv.args.auth.replace(":", "\0", 1).encode():
                raise CqlError(0x0100, "Provided username and/or password are incorrect")
            self.ready = True
            f = io.BytesIO(); P.write_value(f, None)
            self.send(stream, 0x10, f.getvalue())
            return
        if not self.ready:
            raise CqlError(0x000A, "the connection is not started (send STARTUP first)")
        if opcode == 0x07:
            self.send(stream, 0x08, srv.query(info))
            return
        if opcode == 0x09:
            kind = srv.faults.get("prepare")
            if kind:
                srv.faults_fired.append(kind + "@prepare")
                raise fault_error(kind)
            self.send(stream, 0x08, srv.prepare(info))
            return
        # EXECUTE / BATCH: a write
        srv.writes += 1
        kind = srv.faults.get(srv.writes)
        if kind:
            srv.faults_fired.append(f"{kind}@{srv.writes}")
            if kind == "close":
                return "close"
            if kind == "die":     # a crash: no answer, nothing more journaled
                os._exit(3)
            raise fault_error(kind)
        cl, stmts = info[0], info[1]
        if opcode == 0x0D and not all(info[3]):
            raise CqlError(0x2200, "only prepared statements in batches here")
        done = []
        for qid, vals in stmts:
            done.append(srv.insert(qid, vals))
        by_table = {}
        for t, row in done:
            by_table.setdefault(id(t), (t, []))[1].append(row)
        for t, rows in by_table.values():
            srv.apply(t, rows)
        self.send(stream, 0x08, result_void())


def P_string(s):
    f = io.BytesIO(); P.write_string(f, s)
    return f.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--journal")
    ap.add_argument("--stats")
    ap.add_argument("--auth")
    ap.add_argument("--fault", action="append")
    ap.add_argument("--no-compare", action="store_true")
    ap.add_argument("--sink", action="store_true")
    args = ap.parse_args()
    srv = Server(args)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.port))
    ls.listen(16)

    def stop(*_):
        if args.stats:
            with open(args.stats + ".tmp", "w") as f:
                json.dump(srv.stats(), f)
            os.rename(args.stats + ".tmp", args.stats)
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("PORT", ls.getsockname()[1], flush=True)
    while True:
        s, _ = ls.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        Conn(srv, s).start()


if __name__ == "__main__":
    main()
