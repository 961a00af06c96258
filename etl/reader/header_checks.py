"""A table's header checked against the contract: the problems that make a whole table
unreadable (a required column missing, a column given twice, formula cells without a saved
value), said once for the table rather than once per row; and the refusal of a big CSV file
from its first line alone (etl.reader.bundle reads the tables).
"""

from __future__ import annotations

from etl.model import Problem
from etl.reader import headers
from etl.reader.sheets import Sheet, csv_headers

MAX_FORMULA_PROBLEMS = 10  # per sheet: one cause (never saved in Excel), a few addresses


def _header_problems(table: str, file: str, matched: headers.HeaderMap) -> list[Problem]:
    """A column given twice, a required column missing: the table cannot be read as a whole."""
    problems = []
    for head, canonical in matched.duplicates:
        first = matched.written[canonical]
        problems.append(
            Problem(
                file, table, 1, head, head,
                f"„{head}” is a second column for {canonical} (besides „{first}”); keep only one",
            )
        )  # fmt: skip
    for canonical in matched.missing:
        label = matched.label(table, canonical)
        named = canonical if label == canonical else f"„{label}” ({canonical})"
        problems.append(Problem(file, table, 1, label, "", f"required column {named} is missing"))
    return problems


def refused_by_header(
    table: str, file: str, head: bytes, aliases: headers.Aliases
) -> list[Problem]:
    """The problems of a CSV file whose first line already shows it is not this table (the
    same problems reading it whole would give); [] when it may be. So a big file that is not a
    table is refused from its head, without being read into memory. The head alone may not
    decide the encoding: it is refused only when every header the file may have is refused
    alike. (A file refused so is not read further, so an encoding that only its later lines
    make undecidable is not reported: the missing columns are.)"""
    verdicts = [
        _header_problems(table, file, aliases.match(table, header))
        for header in csv_headers(file, head)
    ]
    if verdicts and verdicts[0] and all(v == verdicts[0] for v in verdicts):
        return verdicts[0]
    return []


def matched_header(
    table: str,
    file: str,
    sheet: Sheet,
    aliases: headers.Aliases,
    problems: list[Problem],
    warnings: list[str],
) -> headers.HeaderMap | None:
    """The sheet's columns named by the contract; None (with the problems said) when the table
    cannot be read as a whole: a required column missing, a column given twice, or formula
    cells without a saved value. Its rows are then not checked one by one, nor is anything
    that refers to them (one cause, one problem)."""
    before = len(problems)
    matched = aliases.match(table, sheet.header)
    if matched.unknown:
        warnings.append(f"{file}: unknown column(s) ignored: {', '.join(matched.unknown)}")
    problems += _header_problems(table, file, matched)
    unsaved = [u for u in sheet.unsaved if u[1] in matched.columns]  # others are ignored
    for position, column, cell in unsaved[:MAX_FORMULA_PROBLEMS]:
        problems.append(
            Problem(
                file, table, int(sheet.rows[position]), sheet.header[column], cell.formula,
                f"formula without a saved value in cell {cell.address}; "
                "open and save the file in Excel",
            )
        )  # fmt: skip
    if len(unsaved) > MAX_FORMULA_PROBLEMS:
        more = len(unsaved) - MAX_FORMULA_PROBLEMS
        problems.append(
            Problem(
                file, table, None, "", "",
                f"{more} more formula cell(s) without a saved value; "
                "open and save the file in Excel",
            )
        )  # fmt: skip
    if matched.duplicates or matched.missing or len(problems) > before:
        return None
    return matched
