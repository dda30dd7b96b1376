"""``nvs-gateway report``: the statistics of GetStatistics as files a coordinator works with.

CSV (for any tool), XLSX (openpyxl: coordinators work in spreadsheets) and a chart of learners by
NVŠ direction and municipality (matplotlib, SVG or PNG by the file's suffix), because a
municipality's report is looked at before it is read. Each file is written beside its place and
renamed when complete, so a reader never sees half a report.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.domain.statistics import Counts, Dimension
from gateway.statistics import Report

DIMENSION_HEADERS = {
    Dimension.MUNICIPALITY: "municipality",
    Dimension.PROVIDER: "provider",
    Dimension.DIRECTION: "NVŠ direction",
    Dimension.PURPOSE: "program purpose",
    Dimension.AGE_BAND: "age band",
    Dimension.SEX: "sex",
}


@contextmanager
def _replaced_when_complete(path: Path) -> Iterator[Path]:
    partial = path.with_name(path.name + ".partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def table(report: Report, reasons: dict[str, str]) -> tuple[list[str], list[list[object]]]:
    """The report as a header and rows (the total last): a code and a name column per dimension,
    then the counts, with a column per departure reason that occurs."""
    statistics = report.statistics
    codes = sorted(
        {r for _, c in statistics.lines for r in c.departures_by_reason} | set(statistics.total.departures_by_reason)
    )
    header: list[str] = []
    for dimension in statistics.dimensions:
        header += [DIMENSION_HEADERS[dimension], f"{DIMENSION_HEADERS[dimension]} name"]
    header += ["learners", "arrivals", "departures"]
    header += [f"departures: {reasons.get(code, code)}" for code in codes]
    header += ["basket recipients (child-months)", "basket amount (EUR)", "club attendance"]

    def counts(c: Counts) -> list[object]:
        return [
            c.learners,
            c.arrivals,
            c.departures,
            *(c.departures_by_reason.get(code, 0) for code in codes),
            c.basket_recipients,
            c.basket_amount,
            c.club_attendance,
        ]

    rows: list[list[object]] = []
    for key, line in statistics.lines:
        labels: list[object] = []
        for dimension, code in zip(statistics.dimensions, key, strict=True):
            labels += [code, report.name_of(dimension, code) or ""]
        rows.append(labels + counts(line))
    rows.append(["total", ""] + [""] * (2 * len(statistics.dimensions) - 2) + counts(statistics.total))
    return header, rows


def write_csv(report: Report, reasons: dict[str, str], path: Path) -> None:
    header, rows = table(report, reasons)
    with _replaced_when_complete(path) as partial, partial.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


def write_xlsx(report: Report, reasons: dict[str, str], path: Path, *, scope: str, made_at: dt.datetime) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    header, rows = table(report, reasons)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Statistics"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    bold = Font(bold=True)
    for cell in (*sheet[1], *sheet[sheet.max_row]):
        cell.font = bold
    amount_column = header.index("basket amount (EUR)") + 1
    for (cell,) in sheet.iter_rows(min_row=2, min_col=amount_column, max_col=amount_column):
        cell.number_format = "#,##0.00"
    for index, title in enumerate(header, start=1):
        widest = max([len(title)] + [len(str(row[index - 1])) for row in rows])
        sheet.column_dimensions[get_column_letter(index)].width = min(60, widest + 2)
    sheet.freeze_panes = "A2"
    about = book.create_sheet("About")
    for line in (
        ("period", str(report.statistics.period)),
        ("scope", scope),
        ("grouped by", ", ".join(DIMENSION_HEADERS[d] for d in report.statistics.dimensions)),
        ("made at (UTC)", made_at.strftime("%Y-%m-%d %H:%M")),
        ("counts", "each the count of its list for the same period and scope (README, Reports)"),
    ):
        about.append(line)
    about.column_dimensions["A"].width = 16
    about.column_dimensions["B"].width = 80
    with _replaced_when_complete(path) as partial:
        book.save(partial)


def write_chart(report: Report, path: Path, *, scope: str) -> None:
    """Learners by NVŠ direction (a bar each, most learners on top), each bar split by the providers'
    municipalities. ``report`` must be grouped by municipality and direction."""
    import matplotlib

    matplotlib.use("Agg")  # no screen: files only
    matplotlib.rcParams["svg.fonttype"] = "none"  # SVG text stays text: searchable, selectable, smaller
    matplotlib.rcParams["svg.hashsalt"] = "nvs-gateway"  # stable ids: the same register gives the same file
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    statistics = report.statistics
    assert statistics.dimensions == (Dimension.MUNICIPALITY, Dimension.DIRECTION), (
        "the chart is by municipality and direction"
    )
    learners: dict[str, dict[str, int]] = defaultdict(dict)
    for (municipality, direction), counts in statistics.lines:
        if counts.learners:
            learners[direction][municipality] = counts.learners
    directions = sorted(learners, key=lambda d: (sum(learners[d].values()), d))
    municipalities = sorted(
        {m for by in learners.values() for m in by}, key=lambda m: -sum(by.get(m, 0) for by in learners.values())
    )

    def direction_name(code: str) -> str:
        return report.name_of(Dimension.DIRECTION, code) or code

    def municipality_name(code: str) -> str:
        return report.name_of(Dimension.MUNICIPALITY, code) or code

    figure, axes = plt.subplots(figsize=(10, 1.8 + 0.5 * max(1, len(directions))), layout="constrained")
    left = [0] * len(directions)
    palette = plt.get_cmap("tab10" if len(municipalities) <= 10 else "tab20")
    colours = [palette(i) for i in range(palette.N)]
    for index, municipality in enumerate(municipalities):
        widths = [learners[d].get(municipality, 0) for d in directions]
        axes.barh(
            [direction_name(d) for d in directions],
            widths,
            left=left,
            label=municipality_name(municipality),
            color=colours[index % len(colours)],
            height=0.6,
        )
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for y, total in enumerate(left):
        axes.annotate(f" {total}", (total, y), va="center")
    axes.set_xlabel("learners (providers' municipality by colour)")
    axes.set_title(f"NVŠ learners by direction and municipality, {statistics.period}\n{scope}")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.spines[["top", "right"]].set_visible(False)
    if municipalities:
        axes.margins(x=0.08)  # room for the totals at the bars' ends
        # Beside the bars, never over them.
        axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize="small")
    else:
        axes.text(0.5, 0.5, "no learners in this period and scope", ha="center", transform=axes.transAxes)
    suffix = path.suffix.lower().lstrip(".")
    with _replaced_when_complete(path) as partial:
        # Metadata without a date: the same register gives the same file.
        figure.savefig(partial, format=suffix, metadata={"Date": None} if suffix == "svg" else None)
    plt.close(figure)
