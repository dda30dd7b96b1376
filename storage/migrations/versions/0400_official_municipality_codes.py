"""the official municipality codes of the address register replace the provisional ones

Revision ID: 0400_official_municipality_codes
Revises: 0200
Create Date: 2026-12-02

Until classifiers 2026.1 the municipalities were numbered 01-60 in alphabetical order
(a decision: the official codes were not known). From 2026.2 they carry the 2-digit codes
of the address register (Adresų registras, VĮ Registrų centras), e.g. Vilniaus miesto
savivaldybė 57 -> 13 (data/classifiers/README.md: sources and the whole table).

Every stored municipality code is mapped, in every table that holds one:

* institution.municipality_code, basket_rate.municipality_code, change_event.municipality_code
  (the feed's municipality scopes read it), app_user.municipality_code (coordinators' scopes);
* user_registration_request.scope_code and access_log.scope_code where the scope is a
  municipality. The access log is append-only: its guard trigger is set aside for this
  statement inside the migration's transaction and restored before it commits, so that
  GetAccessLog still names the municipality the user acted for, under its current code;
* classifier_entry rows of the municipality classifier (``migrate`` then reloads 2026.2);
* person.residence_municipality_code: GR's data, so only where the stored name is the
  provisional classifier's name for that code (it came from the sandbox GR); a residence
  GR recorded under another name is left as GR gave it, and the next GR check compares it.

The old and new code sets overlap (57 becomes 13 while 13 becomes 49), and basket_rate and
classifier_entry have unique keys that PostgreSQL and SQLite check row by row: each table is
mapped in two statements, first to marked values ('~13'), then the marks removed.
Downgrade maps back the same way.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0400"
down_revision = "0200"
branch_labels = None
depends_on = None

# provisional code (classifiers 2026.1) -> (address register code, name). Frozen here: the
# migration must mean the same whatever the classifier file says later.
PROVISIONAL = {
    "01": ("32", "Akmenės rajono savivaldybė"),
    "02": ("11", "Alytaus miesto savivaldybė"),
    "03": ("33", "Alytaus rajono savivaldybė"),
    "04": ("34", "Anykščių rajono savivaldybė"),
    "05": ("12", "Birštono savivaldybė"),
    "06": ("36", "Biržų rajono savivaldybė"),
    "07": ("15", "Druskininkų savivaldybė"),
    "08": ("42", "Elektrėnų savivaldybė"),
    "09": ("45", "Ignalinos rajono savivaldybė"),
    "10": ("46", "Jonavos rajono savivaldybė"),
    "11": ("47", "Joniškio rajono savivaldybė"),
    "12": ("94", "Jurbarko rajono savivaldybė"),
    "13": ("49", "Kaišiadorių rajono savivaldybė"),
    "14": ("48", "Kalvarijos savivaldybė"),
    "15": ("19", "Kauno miesto savivaldybė"),
    "16": ("52", "Kauno rajono savivaldybė"),
    "17": ("58", "Kazlų Rūdos savivaldybė"),
    "18": ("53", "Kėdainių rajono savivaldybė"),
    "19": ("54", "Kelmės rajono savivaldybė"),
    "20": ("21", "Klaipėdos miesto savivaldybė"),
    "21": ("55", "Klaipėdos rajono savivaldybė"),
    "22": ("56", "Kretingos rajono savivaldybė"),
    "23": ("57", "Kupiškio rajono savivaldybė"),
    "24": ("59", "Lazdijų rajono savivaldybė"),
    "25": ("18", "Marijampolės savivaldybė"),
    "26": ("61", "Mažeikių rajono savivaldybė"),
    "27": ("62", "Molėtų rajono savivaldybė"),
    "28": ("23", "Neringos savivaldybė"),
    "29": ("63", "Pagėgių savivaldybė"),
    "30": ("65", "Pakruojo rajono savivaldybė"),
    "31": ("25", "Palangos miesto savivaldybė"),
    "32": ("27", "Panevėžio miesto savivaldybė"),
    "33": ("66", "Panevėžio rajono savivaldybė"),
    "34": ("67", "Pasvalio rajono savivaldybė"),
    "35": ("68", "Plungės rajono savivaldybė"),
    "36": ("69", "Prienų rajono savivaldybė"),
    "37": ("71", "Radviliškio rajono savivaldybė"),
    "38": ("72", "Raseinių rajono savivaldybė"),
    "39": ("74", "Rietavo savivaldybė"),
    "40": ("73", "Rokiškio rajono savivaldybė"),
    "41": ("75", "Skuodo rajono savivaldybė"),
    "42": ("84", "Šakių rajono savivaldybė"),
    "43": ("85", "Šalčininkų rajono savivaldybė"),
    "44": ("29", "Šiaulių miesto savivaldybė"),
    "45": ("91", "Šiaulių rajono savivaldybė"),
    "46": ("87", "Šilalės rajono savivaldybė"),
    "47": ("88", "Šilutės rajono savivaldybė"),
    "48": ("89", "Širvintų rajono savivaldybė"),
    "49": ("86", "Švenčionių rajono savivaldybė"),
    "50": ("77", "Tauragės rajono savivaldybė"),
    "51": ("78", "Telšių rajono savivaldybė"),
    "52": ("79", "Trakų rajono savivaldybė"),
    "53": ("81", "Ukmergės rajono savivaldybė"),
    "54": ("82", "Utenos rajono savivaldybė"),
    "55": ("38", "Varėnos rajono savivaldybė"),
    "56": ("39", "Vilkaviškio rajono savivaldybė"),
    "57": ("13", "Vilniaus miesto savivaldybė"),
    "58": ("41", "Vilniaus rajono savivaldybė"),
    "59": ("30", "Visagino savivaldybė"),
    "60": ("43", "Zarasų rajono savivaldybė"),
}
UPGRADE = {old: new for old, (new, _) in PROVISIONAL.items()}
DOWNGRADE = {new: old for old, new in UPGRADE.items()}
NAMES = {old: name for old, (_, name) in PROVISIONAL.items()}
MARK = "~"  # never in a classifier code ([A-Za-z0-9._-]): a value in the middle of its move

# (table, column, the rows whose column is a municipality code)
COLUMNS: tuple[tuple[str, str, tuple[str, str] | None], ...] = (
    ("institution", "municipality_code", None),
    ("app_user", "municipality_code", None),
    ("user_registration_request", "scope_code", ("scope_kind", "municipality")),
    ("basket_rate", "municipality_code", None),
    ("change_event", "municipality_code", None),
    ("access_log", "scope_code", ("scope_kind", "municipality")),
    ("classifier_entry", "code", ("kind", "municipality")),
)


def upgrade() -> None:
    _recode(UPGRADE, {(old, NAMES[old]): new for old, new in UPGRADE.items()})


def downgrade() -> None:
    _recode(DOWNGRADE, {(new, NAMES[old]): old for new, old in DOWNGRADE.items()})


def _recode(codes: dict[str, str], residences: dict[tuple[str, str], str]) -> None:
    for table, column, only in COLUMNS:
        columns = [sa.column(column)] + ([sa.column(only[0])] if only else [])
        rows = sa.table(table, *columns)
        where = [rows.c[only[0]] == only[1]] if only else []
        value = rows.c[column]
        with _access_log_guard_lifted(table == "access_log"):
            op.execute(
                rows.update()
                .where(value.in_(sorted(codes)), *where)
                .values({column: sa.case({old: MARK + new for old, new in codes.items()}, value=value)})
            )
            op.execute(rows.update().where(value.like(MARK + "%"), *where).values({column: sa.func.substr(value, 2)}))

    person = sa.table("person", sa.column("residence_municipality_code"), sa.column("residence_municipality_name"))
    code, name = person.c.residence_municipality_code, person.c.residence_municipality_name
    matches = [sa.and_(code == old, name == known) for (old, known) in residences]
    op.execute(
        person.update()
        .where(sa.or_(*matches))
        .values(
            residence_municipality_code=sa.case(
                *((match, new) for match, new in zip(matches, residences.values(), strict=False)), else_=code
            )
        )
    )


class _access_log_guard_lifted:
    """The access log's UPDATE guard (revision 0100) set aside, inside this transaction only."""

    def __init__(self, needed: bool) -> None:
        self.needed = needed

    def __enter__(self) -> None:
        if not self.needed:
            return
        dialect = op.get_bind().dialect.name
        if dialect == "postgresql":
            op.execute("ALTER TABLE access_log DISABLE TRIGGER access_log_append_only")
        elif dialect == "sqlite":
            op.execute("DROP TRIGGER IF EXISTS access_log_append_only")

    def __exit__(self, *exc: object) -> None:
        if not self.needed:
            return
        dialect = op.get_bind().dialect.name
        if dialect == "postgresql":
            op.execute("ALTER TABLE access_log ENABLE TRIGGER access_log_append_only")
        elif dialect == "sqlite":
            op.execute(
                "CREATE TRIGGER access_log_append_only BEFORE UPDATE ON access_log "
                "BEGIN SELECT RAISE(ABORT, 'the access log is append-only: UPDATE on access_log is refused'); END"
            )
