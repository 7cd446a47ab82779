"""The addon's translations (``halo_helpdesk_billing/i18n/*.po``) against its template (``.pot``).

    python tools/i18n.py merge     bring every .po in line with the .pot (what ``msgmerge`` does:
                                   new strings added untranslated, strings gone from the code made
                                   obsolete, translations of unchanged strings kept; no fuzzy guesses)
    python tools/i18n.py check     every .po is readable and has no format errors (exit 1 if not)

``./test.sh --only pot --update-pot`` regenerates the .pot from Odoo's export and then merges;
the pot step of ./test.sh runs the check. Needs polib and Babel (Odoo's own requirements).
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADDON = "halo_helpdesk_billing"
I18N = ROOT / ADDON / "i18n"
POT = I18N / f"{ADDON}.pot"
WRAP = 78  # as gettext and Odoo's export wrap

# What a translation must keep exactly as the source has it (each one as many times).
PLACEHOLDERS = re.compile(
    r"%\([A-Za-z_][A-Za-z0-9_]*\)[-+ #0]*\d*(?:\.\d+)?[sdifr]"  # %(name)s, %(amount).2f
    r"|%[-+ #0]*\d*(?:\.\d+)?[sdifr%]"  # %s, %d, %%
    r"|\{\{.*?\}\}"  # {{ object.name }} (templates, mail subjects)
    r"|\bt-[a-z-]+=\"[^\"]*\""  # QWeb directives and their expressions
)
TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)\b")


def po_files():
    return sorted(I18N.glob("*.po"))


def merge(pot_path=POT, po_paths=None):
    """Update each .po from the template, as ``msgmerge --no-fuzzy-matching`` would; returns
    {path: (added, obsoleted)}."""
    import polib

    template = polib.pofile(str(pot_path), wrapwidth=WRAP)
    report = {}
    for path in po_paths if po_paths is not None else po_files():
        po = polib.pofile(str(path), wrapwidth=WRAP)
        before = {(e.msgctxt, e.msgid) for e in po if not e.obsolete}
        po.merge(template)
        # entries gone from the template become obsolete (kept at the end, as msgmerge does)
        wanted = {(e.msgctxt, e.msgid) for e in template}
        for entry in po:
            if not entry.obsolete and (entry.msgctxt, entry.msgid) not in wanted:
                entry.obsolete = True
        obsoleted = len(before - wanted)
        # obsolete entries that are translated again elsewhere are noise; drop those never translated
        for entry in [e for e in po if e.obsolete and not e.msgstr]:
            po.remove(entry)
        po.metadata["POT-Creation-Date"] = template.metadata.get("POT-Creation-Date", "")
        po.save(str(path))
        report[path] = (len(wanted - before), obsoleted)
    return report


def entry_problems(msgid, msgstr):
    """Format errors of one translation: placeholders, QWeb expressions and HTML tags differing
    from the source's (titles and other attribute values may be translated)."""
    problems = []
    if not msgstr:
        return problems
    want, have = sorted(PLACEHOLDERS.findall(msgid)), sorted(PLACEHOLDERS.findall(msgstr))
    if want != have:
        missing = sorted(set(want) - set(have)) or want
        extra = sorted(set(have) - set(want)) or have
        problems.append(f"placeholders differ: source {missing}, translation {extra}")
    if sorted(TAG.findall(msgid)) != sorted(TAG.findall(msgstr)):
        problems.append(
            f"HTML tags differ: source {sorted(TAG.findall(msgid))}, "
            f"translation {sorted(TAG.findall(msgstr))}"
        )
    if msgid.endswith("\n") != msgstr.endswith("\n"):
        problems.append("the source and the translation do not both end with a newline")
    return problems


def check(po_paths=None, template=POT):
    """Problems of every .po: unreadable, header, format errors, duplicates, not merged with the
    template. Returns (problems, stats) with stats {path: (translated, total)}."""
    import polib
    from babel.messages.pofile import read_po

    problems, stats = [], {}
    pot_ids = {(e.msgctxt, e.msgid) for e in polib.pofile(str(template))} if template.exists() else None
    for path in po_paths if po_paths is not None else po_files():
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        try:
            with open(path, "rb") as fh:
                read_po(fh, abort_invalid=True)
            po = polib.pofile(str(path))
        except Exception as exc:  # noqa: BLE001 - reported as a problem of the file
            problems.append(f"{name}: cannot be read: {exc}")
            continue
        if not po.metadata.get("Language"):
            problems.append(f"{name}: the header has no Language")
        seen = set()
        live = [e for e in po if not e.obsolete]
        for entry in live:
            key = (entry.msgctxt, entry.msgid)
            if key in seen:
                problems.append(f"{name}:{entry.linenum}: {entry.msgid[:60]!r} is defined twice")
            seen.add(key)
            for problem in entry_problems(entry.msgid, entry.msgstr):
                problems.append(f"{name}:{entry.linenum}: {entry.msgid[:60]!r}: {problem}")
        if pot_ids is not None and seen != pot_ids:
            problems.append(
                f"{name}: not merged with {template.name} ({len(pot_ids - seen)} strings "
                f"missing, {len(seen - pot_ids)} stale): run python tools/i18n.py merge"
            )
        if shutil.which("msgfmt"):
            out = subprocess.run(
                ["msgfmt", "--check", "-o", "/dev/null", str(path)], capture_output=True, text=True
            )
            if out.returncode:
                problems.append(f"{name}: msgfmt --check: {out.stderr.strip()}")
        stats[path] = (sum(1 for e in live if e.msgstr), len(live))
    return problems, stats


def main(argv):
    command = argv[1] if len(argv) > 1 else "check"
    if command == "merge":
        for path, (added, obsoleted) in merge().items():
            print(f"{path.relative_to(ROOT)}: {added} new strings, {obsoleted} obsolete")
        return 0
    if command == "check":
        problems, stats = check()
        for path, (done, total) in stats.items():
            print(f"{path.relative_to(ROOT)}: {done} of {total} strings translated")
        for problem in problems:
            print(f"   {problem}")
        return 1 if problems else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
