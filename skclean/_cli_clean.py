"""``skclean clean``: clean the label column of one's own CSV file.

Reads the CSV (keeping the user's index column as row ids), turns the other
columns into features (numbers scaled, categories one-hot encoded), ranks the
rows with a cleaner and asks a person at the terminal, or with ``--truth`` a
simulated annotator, about the most suspicious ones.  Writes the CSV with the
label column cleaned and an audit CSV with one row per question.  Every answer
goes to the journal as it is given, so an interrupted run resumes where it
stopped.
"""

import sys

import numpy as np

EPILOG = """\
examples:
  # a person answers at the terminal; trusted rows are flagged in column "verified"
  skclean clean reviews.csv --label sentiment --trusted verified --index-col id \\
      --out reviews_clean.csv --audit audit.csv --journal answers.sqlite --budget 50

  # a dry run: a simulated annotator reads the true labels from column "truth"
  skclean clean data.csv --label y --trusted verified --truth truth --out clean.csv

  # no verified rows yet: CINCER streams the rows and asks about suspicious ones
  skclean clean data.csv --label y --out clean.csv --budget 40

At the prompt: type a label, Enter to accept the suggestion shown, 'keep' to keep
the current label, 'skip' for no judgement, 'stop', Ctrl-D or Ctrl-C to end. Every
answer is kept in the journal the moment it is typed; run the same command again to
resume. The cleaned CSV is the input with only the label column changed.
"""


#: --method -> whether it needs verified rows
METHODS = {"detector": True, "model-based": True, "chef": True, "cincer": False}


class UsageError(Exception):
    """A bad input from the command line: one line on stderr, exit code 2."""


def add_parser(sub):
    p = sub.add_parser(
        "clean", help="clean the label column of your own CSV file",
        description="Find and fix wrong labels in a CSV file, asking you (or a simulated "
                    "annotator) about the most suspicious rows.",
        epilog=EPILOG, formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("data", metavar="DATA.csv", help="the CSV file to clean")
    p.add_argument("--label", required=True, metavar="COL", help="the label column")
    p.add_argument("--out", required=True, metavar="CLEANED.csv",
                   help="where to write the CSV with the label column cleaned")
    p.add_argument("--audit", metavar="AUDIT.csv",
                   help="where to write one row per question (row id, given, answer, ...)")
    p.add_argument("--journal", metavar="FILE",
                   help="SQLite file keeping every answer as it is given; run again to resume "
                        "(default: next to --out, CLEANED.answers.sqlite)")
    p.add_argument("--no-journal", action="store_true",
                   help="keep no journal: an interrupted run loses its answers")
    p.add_argument("--budget", type=int, default=20, metavar="N",
                   help="rows to ask about (default: 20)")
    p.add_argument("--batch-size", type=int, default=5, metavar="N",
                   help="rows asked per round before the model is updated (default: 5)")
    p.add_argument("--trusted", metavar="COL",
                   help="boolean column marking rows whose labels are verified (the clean "
                        "reference / validation set)")
    p.add_argument("--index-col", metavar="COL", help="column holding the row ids")
    p.add_argument("--text", metavar="COL", action="append",
                   help="a column of free text, used as TF-IDF of its words and word pairs "
                        "(repeat for several); other string columns are one-hot encoded when "
                        "they have few distinct values, and left out when they hold ids, "
                        "dates or many distinct values (the output says which)")
    p.add_argument("--method", choices=sorted(METHODS), default=None,
                   help="detector (the default with --trusted): class-based influence against "
                        "the trusted rows, most suspicious first, ranked again with your "
                        "answers after each batch; model-based: a model of the "
                        "trusted rows; chef: influence on the trusted rows with suggested "
                        "labels, the model updated between rounds; cincer (the default "
                        "without --trusted, which it does not need): the rows as a stream, "
                        "suspicious ones asked about with the example that most supports the "
                        "doubt")
    p.add_argument("--truth", metavar="COL",
                   help="dry run: a simulated annotator answers from this column")
    p.add_argument("--web", action="store_true",
                   help="answer in a browser: the command prints a link to a page on this "
                        "machine (needs: pip install 'skclean[web]')")
    p.add_argument("--port", type=int, default=None, metavar="N",
                   help="with --web: the port to serve on (default: a free one)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.set_defaults(run=run)
    return p


# ----------------------------------------------------------------------------- inputs
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


def _read(args):
    import pandas as pd

    try:
        df = pd.read_csv(args.data, index_col=None)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {args.data}: {exc}") from None
    if df.empty:
        raise UsageError(f"{args.data} has no rows.")
    named = {"--label": args.label, "--trusted": args.trusted, "--truth": args.truth,
             "--index-col": args.index_col}
    for flag, col in named.items():
        if col is not None and col not in df.columns:
            raise UsageError(f"{flag} {col!r}: no such column in {args.data} (columns: "
                             f"{', '.join(map(str, df.columns))}).")
    # labels and ids as written: 'NA' is a class name, '00007' is not 7
    as_text = [c for c in (args.label, args.truth, args.index_col) if c is not None]
    text = pd.read_csv(args.data, usecols=as_text, dtype=str, keep_default_na=False)
    for c in as_text:
        df[c] = text[c].to_numpy()
    if args.index_col is not None:
        if df[args.index_col].duplicated().any():
            raise UsageError(f"--index-col {args.index_col!r} has duplicate values; row ids "
                             "must be unique.")
        df = df.set_index(args.index_col)
    empty = (df[args.label].str.strip() == "").to_numpy()
    if empty.any():
        raise UsageError(f"--label {args.label!r} is empty on {int(empty.sum())} row(s) (the "
                         f"first: row {np.flatnonzero(empty)[0] + 1}); fill or drop them first.")
    if df[args.label].nunique() < 2:
        raise UsageError(f"--label {args.label!r} has fewer than two distinct labels.")
    return df


def _trusted_mask(df, col):
    values = df[col]
    if values.dtype == bool:
        return values.to_numpy()
    text = values.astype(str).str.strip().str.lower()
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        raise UsageError(f"--trusted {col!r} must hold true/false (or 1/0, yes/no); found "
                         f"{values[bad].iloc[0]!r}.")
    return text.isin(_TRUE).to_numpy()


#: A string column with at most this many distinct values is one-hot encoded.
MAX_CATEGORIES = 50


def _column_roles(df, cols, text):
    """``{column: (role, why)}``: how each feature column is used, or why it is left out.

    Numbers are scaled; the ``text`` columns become TF-IDF word 1-2-grams; other
    string columns with few distinct values are one-hot encoded.  Left out:
    columns of dates, id-like columns (a distinct value on nearly every row),
    and other many-valued strings (named with ``--text`` they would be used).
    """
    import pandas as pd

    roles = {}
    n = len(df)
    for c in cols:
        values = df[c]
        if c in text:
            roles[c] = ("text", "TF-IDF of words and word pairs")
        elif pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            roles[c] = ("numeric", "scaled")
        elif values.isna().all():
            roles[c] = (None, "empty")
        else:
            present = values.dropna().astype(str)
            distinct = present.nunique()
            if _looks_like_dates(present):
                roles[c] = (None, "dates")
            elif distinct <= MAX_CATEGORIES and distinct <= max(2, n // 2):
                roles[c] = ("categorical", f"one-hot, {distinct} categories")
            elif present.str.split().str.len().mean() >= 3:
                roles[c] = (None, f"free text; --text {c} would use its words")
            elif distinct >= 0.9 * len(present):
                roles[c] = (None, "an id: a different value on nearly every row")
            else:
                roles[c] = (None, f"{distinct} distinct strings; --text {c} would use it as "
                                  "text")
    return roles


def _looks_like_dates(values):
    import warnings

    import pandas as pd

    sample = values.iloc[:200]
    if sample.str.fullmatch(r"[-+]?\d+(\.\d*)?").all():  # plain numbers are not dates
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": a per-element parse
        parsed = pd.to_datetime(sample, errors="coerce")
    return bool(parsed.notna().mean() >= 0.95)


def _features(df, exclude, text=()):
    """A scikit-learn transformer for the usable columns, and ``{column: (role, why)}``.

    Its output is sparse when one-hot or TF-IDF columns make it mostly zeros:
    the cleaners take sparse rows as they are.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cols = [c for c in df.columns if c not in exclude]
    for c in text:
        if c not in df.columns:
            raise UsageError(f"--text {c!r}: no such column (columns: "
                             f"{', '.join(map(str, df.columns))}).")
        if c in exclude:
            raise UsageError(f"--text {c!r} is the label, trusted or truth column.")
    roles = _column_roles(df, cols, set(text))
    by_role = {r: [c for c in cols if roles[c][0] == r] for r in ("numeric", "categorical")}
    parts = []
    if by_role["numeric"]:
        parts.append(("num", make_pipeline(SimpleImputer(strategy="median"),
                                           StandardScaler()), by_role["numeric"]))
    if by_role["categorical"]:
        parts.append(("cat", make_pipeline(
            SimpleImputer(strategy="most_frequent"),
            OneHotEncoder(handle_unknown="ignore")), by_role["categorical"]))
    for i, c in enumerate(c for c in cols if roles[c][0] == "text"):
        # a column named as a scalar reaches the vectorizer as the 1-D strings it reads
        parts.append((f"text{i}", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), c))
    if not parts:
        raise UsageError("no usable feature columns: " + "; ".join(
            f"{c}: {why}" for c, (_, why) in roles.items()) + ".")
    return ColumnTransformer(parts), roles


def _describe_features(roles):
    """One line per use of the columns, for the person running the command."""
    lines = []
    for role, what in (("numeric", "numbers, scaled"), ("categorical", "categories, one-hot"),
                       ("text", "text, TF-IDF of words and word pairs")):
        used = [f"{c}" + (f" ({why.split(', ')[1]})" if role == "categorical" else "")
                for c, (r, why) in roles.items() if r == role]
        if used:
            lines.append(f"  {what}: {', '.join(map(str, used))}")
    left = [f"{c} ({why})" for c, (r, why) in roles.items() if r is None]
    if left:
        lines.append(f"  left out: {'; '.join(map(str, left))}")
    return "skclean: features used:\n" + "\n".join(lines)


# ----------------------------------------------------------------------------- run
def run(args, *, input_fn=input, print_fn=print):
    """Run ``skclean clean``; returns the exit code (2 for a bad input, 130 if interrupted)."""
    import signal

    def interrupt(signum, frame):  # a closed terminal or a kill ends the run like Ctrl-C
        raise KeyboardInterrupt

    handled = [sig for sig in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
               if sig is not None]
    previous = {}
    try:
        for sig in handled:
            previous[sig] = signal.signal(sig, interrupt)
    except ValueError:  # not the main thread: leave the signals alone
        previous = {}
    try:
        return _run(args, input_fn, print_fn)
    except UsageError as exc:
        print(f"skclean clean: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nskclean clean: interrupted; {_kept(args)}", file=sys.stderr)
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _kept(args):
    """What an interrupted run kept, and how to resume."""
    path = getattr(args, "journal_path", None)
    if path is None:
        return "no journal was kept (--no-journal): the answers are lost."
    from .questions import Journal

    try:
        n = len(Journal(path))
    except ValueError:
        n = "the"
    return f"{n} answer(s) kept in {path}; run the same command again to resume."


# ----------------------------------------------------------------------------- files
def _check_paths(args):
    """Refuse outputs that would overwrite the input, the journal or each other, and
    outputs that cannot be written: before any work, not after the last answer."""
    import os
    from pathlib import Path

    if args.journal == "":
        raise UsageError("--journal '' names no file; give a path, or --no-journal.")
    if args.no_journal and args.journal is not None:
        raise UsageError("--journal and --no-journal contradict each other.")
    args.journal_path = None if args.no_journal else str(
        args.journal if args.journal is not None else Path(args.out).with_suffix(
            ".answers.sqlite"))
    named = {"DATA.csv": args.data, "--out": args.out, "--audit": args.audit,
             "--journal": args.journal_path}
    seen = {}
    for flag, path in named.items():
        if path is None:
            continue
        real = os.path.realpath(path)
        if real in seen:
            raise UsageError(f"{flag} {path} is the same file as {seen[real]}: it would be "
                             "overwritten.")
        seen[real] = flag
    for flag in ("--out", "--audit", "--journal"):
        path = named[flag]
        if path is None:
            continue
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise UsageError(f"{flag} {path}: the folder {folder} does not exist.")
        if not os.access(folder, os.W_OK) or (os.path.exists(path)
                                              and not os.access(path, os.W_OK)):
            raise UsageError(f"{flag} {path}: not writable.")


def _check_journal(args):
    """Open the journal once, last of the checks: a foreign file is refused, and a new one is
    created only for a run that will ask."""
    if args.journal_path is not None:
        from .questions import Journal

        try:
            Journal(args.journal_path).close()
        except ValueError as exc:
            raise UsageError(f"--journal {args.journal_path}: {exc}") from None


def _write_atomic(path, write):
    """``write(file)`` into a temporary file beside ``path``, then put it in place at once:
    a full disk or a crash never leaves a half-written file where ``path`` was."""
    import os
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".skclean-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _write_cleaned(args, df, changed):
    """The input file with only the label column changed, on the rows in ``changed``
    (position -> label): every other cell as it was written, read as text."""
    import csv

    import pandas as pd

    with open(args.data, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r]  # pandas skips blank lines too
    # the label's position as pandas names the columns (a repeated header gets '.1')
    col = list(pd.read_csv(args.data, nrows=0).columns).index(args.label)
    text_of = {}  # a label as the file writes it (e.g. '07' for 7)
    for r, value in zip(rows[1:], df[args.label], strict=False):
        text_of.setdefault(value, r[col])
    for pos, label in changed.items():
        rows[pos + 1][col] = text_of.get(label, str(label))
    _write_atomic(args.out, lambda f: csv.writer(f, lineterminator="\n").writerows(rows))


def _formula_safe(report):
    """The audit table with cells a spreadsheet would run as formulas made inert."""
    out = report.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].map(lambda v: "'" + v if isinstance(v, str)
                                and v[:1] in ("=", "+", "-", "@", "\t", "\r") else v)
    return out


def _run(args, input_fn, print_fn):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from . import (
        ChefCleaner,
        CincerCleaner,
        ClassBasedIFDetector,
        ConsoleOracle,
        ModelBasedDetector,
        ReviewCleaner,
        SimulatedOracle,
    )
    from .oracles import BudgetedOracle

    if args.budget < 1 or args.batch_size < 1:
        raise UsageError("--budget and --batch-size must be at least 1.")
    if args.web and args.truth is not None:
        raise UsageError("--web is for a person answering; --truth answers by itself: give "
                         "one of them.")
    if args.port is not None and not args.web:
        raise UsageError("--port is the port of the --web page: add --web.")
    if args.port is not None and not 0 < args.port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, got {args.port}.")
    if args.web:
        try:
            import flask  # noqa: F401
        except ImportError:
            raise UsageError("--web needs Flask: pip install 'skclean[web]'.") from None
    _check_paths(args)
    df = _read(args)
    y = df[args.label]
    exclude = {args.label, args.trusted, args.truth} - {None}
    method = args.method or ("detector" if args.trusted is not None else "cincer")
    if METHODS[method] and args.trusted is None:
        raise UsageError(f"--method {method} ranks rows by rows whose labels you have "
                         "verified: name them with --trusted COL, or use --method cincer, "
                         "which needs none.")
    trusted = np.zeros(len(df), dtype=bool)
    if args.trusted is not None:
        trusted = _trusted_mask(df, args.trusted)
        if not trusted.any():
            raise UsageError(f"--trusted {args.trusted!r} marks no row: the trusted set is "
                             "empty.")
        if trusted.all():
            raise UsageError(f"--trusted {args.trusted!r} marks every row: nothing to clean.")
    features, roles = _features(df, exclude, args.text or ())
    cols = [c for c, (role, _) in roles.items() if role is not None]
    if args.truth is not None:
        unknown = sorted(set(df[args.truth]) - set(y.unique()), key=str)
        if unknown:
            raise UsageError(f"--truth {args.truth!r} holds labels that are not in --label "
                             f"{args.label!r}: {unknown[:5]}.")
        oracle = SimulatedOracle(df[cols], df[args.truth])
        oracle.name = "simulated (--truth)"
    elif args.web:
        from .web import WebOracle

        oracle = WebOracle(data=df[cols], port=args.port, print_fn=print_fn)
        oracle.name = "person (web)"
        try:  # listening now: a port in use is said before any work
            oracle.url  # noqa: B018
        except OSError as exc:
            raise UsageError(f"--port {args.port}: cannot listen on it ({exc}).") from None
    else:
        oracle = ConsoleOracle(data=df[cols], input_fn=input_fn, print_fn=print_fn)
        oracle.name = "person"
    _check_journal(args)
    budget = min(args.budget, int((~trusted).sum()))
    words = {c: df[c].fillna("").astype(str) for c, (r, _) in roles.items() if r == "text"}
    try:
        Xf = features.fit_transform(df.assign(**words))  # a missing text has no words
    except ValueError as exc:  # e.g. a --text column with no words at all
        raise UsageError(f"cannot encode the feature columns: {exc}") from None
    print_fn(_describe_features(roles))
    ids = df.index.to_numpy()  # the encoded rows carry no index: the row ids go along
    model = LogisticRegression(max_iter=2000)
    # a progress bar only when nobody is typing: it would tear the questions apart
    common = {"oracle": oracle, "budget": budget, "batch_size": args.batch_size,
              "journal": args.journal_path, "verbose": int(args.truth is not None)}
    if method == "cincer":
        if args.trusted is None and args.method is None:
            print_fn("skclean: no --trusted column: cleaning with CINCER, which needs no "
                     "verified rows (the first fifth of the rows bootstrap the model, the rest "
                     "stream by; suspicious rows are asked about).")
        # CINCER asks whenever a row is suspicious: the budget is the oracle's
        cleaner = CincerCleaner(model, oracle=BudgetedOracle(oracle, budget),
                                journal=args.journal_path, verbose=common["verbose"],
                                random_state=args.seed)
        cleaner.fit_resample(Xf, y, row_ids=ids)
    else:
        if method == "chef":
            cleaner = ChefCleaner(model, random_state=args.seed, **common)
        else:  # a detector's ranking, asked about most suspicious first
            det = (ClassBasedIFDetector(model, random_state=args.seed) if method == "detector"
                   else ModelBasedDetector(model, random_state=args.seed))
            cleaner = ReviewCleaner(det, **common)
        Pipeline([("clean", cleaner)]).fit(Xf, y, clean__trusted_mask=trusted,
                                           clean__row_ids=ids)
    if args.web:
        oracle.close()
    report = cleaner.cleaning_report()
    fixed = report[report["changed"]]
    positions = df.index.get_indexer(fixed["row_id"].to_numpy())
    _write_cleaned(args, df, dict(zip(positions.tolist(), fixed["applied"], strict=True)))
    if args.audit:
        _write_atomic(args.audit, lambda f: _formula_safe(report).to_csv(f, index=False))
    changed = int(report["changed"].sum())
    answered = int((~report["skipped"]).sum())
    print_fn(f"skclean: asked about {len(report)} row(s), {answered} answered, changed "
             f"{changed} label(s); "
             f"cleaned labels written to {args.out}"
             + (f", audit to {args.audit}" if args.audit else "")
             + (f"; answers kept in {args.journal_path}" if args.journal_path else "") + ".")
    return 0
