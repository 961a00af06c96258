"""The snapshot contract: everything the import promises the portal, and nothing else.

`etl` writes published generations; `portal` reads them. The portal imports only this package
from `etl` (import-linter keeps it so), and this package imports nothing else from `etl`:

- `document`: the typed per-premises document, its format version and ledger columns;
- `money`: integer grosze <-> decimal text, the one conversion both sides use;
- `accounts`: the NRB (Polish bank account) check and its printed grouping;
- `ids`: a premises id as one URL path segment;
- `store`: the generation store (immutable generations switched by an atomic pointer);
- `generation`: one published generation, read (`Generation`, also importable from `store`);
- `writer`: building and committing the next generation (the import's side only).
"""
