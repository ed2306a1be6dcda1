"""A private influxd 1.6 for tests and bench (../shared/TESTING.md recipe):
its own config and dirs under a temp dir, free ports, run as nobody when
root, stopped by pid (also on failure: use it as a context manager)."""
import json, os, shutil, signal, socket, subprocess, time, urllib.parse, urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Influxd:
    def __init__(self, tmp, udp_db=None):
        self.dir = os.path.join(tmp, "influxd")
        os.makedirs(self.dir, exist_ok=True)
        if os.getuid() == 0:   # nobody must reach its dirs through the private temp dir
            os.chmod(tmp, 0o711)
        self.rpc, self.http = free_port(), free_port()
        self.udp = free_port() if udp_db else None
        self.url = f"http://127.0.0.1:{self.http}"
        self.conf = os.path.join(self.dir, "influxd.conf")
        d = self.dir
        udp = (f'[[udp]]\n  enabled = true\n  bind-address = "127.0.0.1:{self.udp}"\n'
               f'  database = "{udp_db}"\n  batch-size = 100\n  batch-timeout = "100ms"\n'
               if udp_db else "")
        with open(self.conf, "w") as f:
            f.write(f'reporting-disabled = true\nbind-address = "127.0.0.1:{self.rpc}"\n'
                    f'[meta]\n  dir = "{d}/meta"\n'
                    f'[data]\n  dir = "{d}/data"\n  wal-dir = "{d}/wal"\n'
                    f'  query-log-enabled = false\n'
                    f'[http]\n  bind-address = "127.0.0.1:{self.http}"\n'
                    f'  log-enabled = false\n  max-body-size = 0\n'
                    f'[monitor]\n  store-enabled = false\n' + udp)
        self.proc = None

    def start(self):
        cmd = ["influxd", "run", "-config", self.conf]
        if os.getuid() == 0:
            subprocess.run(["chown", "-R", "nobody:nogroup", self.dir], check=True)
            cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + cmd
        self.log = open(os.path.join(os.path.dirname(self.dir), "influxd.log"), "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log)
        t0 = time.time()
        while time.time() - t0 < 90:   # a restart replays the WAL; the machine may be busy
            try:
                with urllib.request.urlopen(self.url + "/ping", timeout=1) as r:
                    if r.status == 204:
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("influxd exited; see influxd.log")
            time.sleep(0.05)
        raise RuntimeError("influxd did not answer /ping")

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def pid(self):
        return self.proc.pid if self.proc else None

    def query(self, q, db=None, method="POST"):
        params = {"q": q, "epoch": "ns"}
        if db:
            params["db"] = db
        data = urllib.parse.urlencode(params).encode()
        req = urllib.request.Request(self.url + "/query", data=data, method="POST")
        with urllib.request.urlopen(req, timeout=60) as r:
            res = json.load(r)
        out = res["results"][0]
        if "error" in out:
            raise RuntimeError(out["error"])
        return out.get("series", [])

    def write(self, db, body):
        req = urllib.request.Request(self.url + "/write?db=" + db, data=body.encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.kill(signal.SIGTERM)
