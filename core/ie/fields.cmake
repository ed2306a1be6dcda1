# Field registry sources generated from core/ie/*.tsv (see core/ie/README.md).
set(FL_IE_GENERATED "")
