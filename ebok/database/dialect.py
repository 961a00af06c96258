"""SQL written once, for SQLite and PostgreSQL: the few spellings that differ, translated.

EBOK's SQL is written in SQLite's dialect, kept to what PostgreSQL understands as well
(`ON CONFLICT … DO NOTHING/UPDATE`, `RETURNING`, ISO-8601 text for times, integers for
booleans, `COLLATE NOCASE`: a case-insensitive collation of that name is made in PostgreSQL by
ebok.database). For PostgreSQL, `to_postgresql` rewrites the rest, outside string literals:

    ?  and  :name                 ->  %s  and  %(name)s   (psycopg's parameters; `%` -> `%%`)
    json_group_array(x)           ->  coalesce(json_agg(x)::text, '[]')
    x LIKE ?                      ->  x ILIKE %s COLLATE "C"   (SQLite's LIKE ignores ASCII
                                      case, and so does ILIKE in the C collation; a NOCASE
                                      column's own collation would be refused by ILIKE)
    COLLATE BINARY                ->  COLLATE "C"
    INSERT OR IGNORE INTO … VALUES …  ->  INSERT INTO … VALUES … ON CONFLICT DO NOTHING

and `ddl_to_postgresql` the table definitions of a migration (`INTEGER PRIMARY KEY` as an
identity column, `REAL` as double precision, no `WITHOUT ROWID`). What cannot be translated
(`PRAGMA`, `INSERT OR REPLACE`, triggers) is refused with a message saying so: such a migration
needs its PostgreSQL text written out (portal.accounts.schema.POSTGRESQL).
"""

from __future__ import annotations

import re
from functools import lru_cache


class Untranslatable(ValueError):
    """SQL that has no automatic PostgreSQL spelling."""


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _pieces(sql: str) -> list[tuple[bool, str]]:
    """`sql` cut into (is_code, text): string literals ('…', with '' inside) and quoted
    identifiers ("…") apart from the code between them."""
    pieces: list[tuple[bool, str]] = []
    start = i = 0
    while i < len(sql):
        char = sql[i]
        if char in "'\"":
            if i > start:
                pieces.append((True, sql[start:i]))
            end = i + 1
            while True:
                end = sql.find(char, end)
                if end == -1:
                    raise Untranslatable(f"unterminated quote in SQL: {sql!r}")
                if sql[end + 1 : end + 2] == char:
                    end += 2
                    continue
                break
            pieces.append((False, sql[i : end + 1]))
            start = i = end + 1
        else:
            i += 1
    if start < len(sql):
        pieces.append((True, sql[start:]))
    return pieces


def _parameters(code: str) -> str:
    """`?` -> `%s`, `:name` -> `%(name)s`, `%` -> `%%` in a piece of code (not `::type`)."""
    out = []
    i = 0
    while i < len(code):
        char = code[i]
        if char == "%":
            out.append("%%")
        elif char == "?":
            out.append("%s")
        elif char == ":" and code[i + 1 : i + 2] == ":":
            out.append("::")
            i += 1
        elif char == ":" and (match := _WORD.match(code, i + 1)):
            out.append(f"%({match.group()})s")
            i = match.end() - 1
        else:
            out.append(char)
        i += 1
    return "".join(out)


_LIKE = re.compile(r"(?<![A-Za-z_:])LIKE(?![A-Za-z_])", re.IGNORECASE)
_LIKE_PARAMETER = re.compile(r"(?<![A-Za-z_:])LIKE(\s+)(\?|:[A-Za-z_]\w*)", re.IGNORECASE)
_BINARY = re.compile(r"\bCOLLATE\s+BINARY\b", re.IGNORECASE)
_OR_IGNORE = re.compile(r"\bINSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_REFUSED = re.compile(r"\b(PRAGMA|INSERT\s+OR\s+REPLACE|REPLACE\s+INTO)\b", re.IGNORECASE)
_JSON_GROUP_ARRAY = re.compile(r"\bjson_group_array\s*\(", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)


def _json_group_array(sql: str) -> str:
    """json_group_array(x) -> coalesce(json_agg(x)::text, '[]'), x with balanced brackets."""
    while match := _JSON_GROUP_ARRAY.search(sql):
        depth, i = 1, match.end()
        while depth:
            if i >= len(sql):
                raise Untranslatable(f"unbalanced json_group_array( in SQL: {sql!r}")
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            i += 1
        argument = sql[match.end() : i - 1]
        sql = f"{sql[: match.start()]}coalesce(json_agg({argument})::text, '[]'){sql[i:]}"
    return sql


@lru_cache(maxsize=2048)
def to_postgresql(sql: str) -> str:
    """One statement in EBOK's SQLite dialect, as psycopg runs it on PostgreSQL."""
    pieces = _pieces(sql)
    code = "\x00".join(text for is_code, text in pieces if is_code)
    if match := _REFUSED.search(code):
        raise Untranslatable(f"{match.group(1)} has no PostgreSQL translation: {sql!r}")
    ignore = bool(_OR_IGNORE.search(code))
    out = []
    for is_code, text in pieces:
        if is_code:
            text = _OR_IGNORE.sub("INSERT INTO", text)
            text = _LIKE_PARAMETER.sub(r'ILIKE\1\2 COLLATE "C"', text)
            text = _LIKE.sub("ILIKE", text)
            text = _BINARY.sub('COLLATE "C"', text)
            text = _parameters(_json_group_array(text))
        else:
            text = text.replace("%", "%%")
        out.append(text)
    translated = "".join(out)
    if ignore:
        returning = _RETURNING.search(translated)
        if returning:
            head, tail = translated[: returning.start()], translated[returning.start() :]
            translated = f"{head.rstrip()} ON CONFLICT DO NOTHING {tail}"
        else:
            translated = translated.rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    return translated


_INTEGER_KEY = re.compile(
    r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?(?!\s+REFERENCES)", re.IGNORECASE
)


def ddl_to_postgresql(script: str) -> str:
    """A migration's table definitions for PostgreSQL (see the module docstring)."""
    if re.search(r"\bCREATE\s+TRIGGER\b|\bPRAGMA\b", script, re.IGNORECASE):
        raise Untranslatable(
            "a migration with triggers or PRAGMAs needs its PostgreSQL text written out"
        )
    script = _INTEGER_KEY.sub("INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", script)
    script = re.sub(r"\bREAL\b", "DOUBLE PRECISION", script, flags=re.IGNORECASE)
    script = re.sub(r"\bBLOB\b", "BYTEA", script, flags=re.IGNORECASE)
    script = re.sub(r"\)\s*WITHOUT\s+ROWID", ")", script, flags=re.IGNORECASE)
    return script
