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

EPILOG = """\
examples:
  # a person answers at the terminal; trusted rows are flagged in column "verified"
  skclean clean reviews.csv --label sentiment --trusted verified --index-col id \\
      --out reviews_clean.csv --audit audit.csv --journal answers.sqlite --budget 50

  # a dry run: a simulated annotator reads the true labels from column "truth"
  skclean clean data.csv --label y --trusted verified --truth truth --out clean.csv

At the prompt: type a label, Enter to accept the suggestion shown, 'keep' to keep
the current label, 'skip' for no judgement, 'stop' or Ctrl-D to end (every answer
given is kept; run the same command again to resume from --journal).
"""


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
                   help="SQLite file keeping every answer as it is given; run again to resume")
    p.add_argument("--budget", type=int, default=20, metavar="N",
                   help="rows to ask about (default: 20)")
    p.add_argument("--batch-size", type=int, default=5, metavar="N",
                   help="rows asked per round before the model is updated (default: 5)")
    p.add_argument("--trusted", metavar="COL",
                   help="boolean column marking rows whose labels are verified (the clean "
                        "reference / validation set)")
    p.add_argument("--index-col", metavar="COL", help="column holding the row ids")
    p.add_argument("--method", choices=["detector", "chef"], default="detector",
                   help="detector (default): class-based influence against the trusted "
                        "rows, most suspicious first; chef: influence on the trusted rows "
                        "with suggested labels, the model updated between rounds")
    p.add_argument("--truth", metavar="COL",
                   help="dry run: a simulated annotator answers from this column")
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
    if args.index_col is not None:
        if df[args.index_col].duplicated().any():
            raise UsageError(f"--index-col {args.index_col!r} has duplicate values; row ids "
                             "must be unique.")
        df = df.set_index(args.index_col)
    if df[args.label].isna().any():
        raise UsageError(f"--label {args.label!r} has {int(df[args.label].isna().sum())} "
                         "missing labels; fill or drop those rows first.")
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


def _features(df, exclude):
    """A scikit-learn transformer for every column but ``exclude``, and those columns."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cols = [c for c in df.columns if c not in exclude]
    if not cols:
        raise UsageError("no feature columns left besides the label, trusted and truth ones.")
    numeric = [c for c in cols if pd.api.types.is_numeric_dtype(df[c])]
    other = [c for c in cols if c not in numeric]
    parts = []
    if numeric:
        parts.append(("num", make_pipeline(SimpleImputer(strategy="median"),
                                           StandardScaler()), numeric))
    if other:
        parts.append(("cat", make_pipeline(
            SimpleImputer(strategy="most_frequent"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False)), other))
    return ColumnTransformer(parts).set_output(transform="pandas"), cols


# ----------------------------------------------------------------------------- run
def run(args, *, input_fn=input, print_fn=print):
    """Run ``skclean clean``; returns the exit code (2 for a bad input)."""
    try:
        return _run(args, input_fn, print_fn)
    except UsageError as exc:
        print(f"skclean clean: error: {exc}", file=sys.stderr)
        return 2


def _run(args, input_fn, print_fn):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from . import ChefCleaner, ClassBasedIFDetector, ConsoleOracle, ReviewCleaner, SimulatedOracle

    if args.budget < 1 or args.batch_size < 1:
        raise UsageError("--budget and --batch-size must be at least 1.")
    df = _read(args)
    y = df[args.label]
    exclude = {args.label, args.trusted, args.truth} - {None}
    if args.trusted is None:
        raise UsageError("--trusted COL is required: skclean ranks rows by their influence "
                         "on rows whose labels you have verified.")
    trusted = _trusted_mask(df, args.trusted)
    if not trusted.any():
        raise UsageError(f"--trusted {args.trusted!r} marks no row: the trusted set is empty.")
    if trusted.all():
        raise UsageError(f"--trusted {args.trusted!r} marks every row: nothing to clean.")
    features, cols = _features(df, exclude)
    if args.truth is not None:
        unknown = sorted(set(df[args.truth].dropna()) - set(y.unique()), key=str)
        if unknown or df[args.truth].isna().any():
            what = unknown[:5] if unknown else "missing values"
            raise UsageError(f"--truth {args.truth!r} holds labels that are not in --label "
                             f"{args.label!r}: {what}.")
        oracle = SimulatedOracle(df[cols], df[args.truth])
        oracle.name = "simulated (--truth)"
    else:
        oracle = ConsoleOracle(data=df[cols], input_fn=input_fn, print_fn=print_fn)
        oracle.name = "person"
    budget = min(args.budget, int((~trusted).sum()))
    Xf = features.fit_transform(df)
    model = LogisticRegression(max_iter=2000)
    # a progress bar only when nobody is typing: it would tear the questions apart
    common = {"oracle": oracle, "budget": budget, "batch_size": args.batch_size,
              "journal": args.journal, "verbose": int(args.truth is not None)}
    if args.method == "chef":
        cleaner = ChefCleaner(model, random_state=args.seed, **common)
    else:  # class-based influence ranking, asked about most suspicious first
        cleaner = ReviewCleaner(ClassBasedIFDetector(model, random_state=args.seed), **common)
    Pipeline([("clean", cleaner)]).fit(Xf, y, clean__trusted_mask=trusted)
    report = cleaner.cleaning_report()
    cleaned = y.copy()
    fixed = report[~report["skipped"]]
    if len(fixed):
        cleaned.loc[fixed["row_id"].to_numpy()] = fixed["applied"].to_numpy()
    out = df.copy()
    out[args.label] = cleaned
    out.to_csv(args.out, index=args.index_col is not None)
    if args.audit:
        report.to_csv(args.audit, index=False)
    changed = int(report["changed"].sum())
    answered = int((~report["skipped"]).sum())
    print_fn(f"skclean: asked about {len(report)} row(s), {answered} answered, changed "
             f"{changed} label(s); "
             f"cleaned labels written to {args.out}"
             + (f", audit to {args.audit}" if args.audit else "") + ".")
    return 0
