"""Keeping the frozen evaluation prompts out of training releases.

A frozen evaluation set is a `prompt` release flagged `frozen_eval`. Every other release is checked
against the latest version of each such set (or the ones its recipe names), and a candidate is dropped
as `eval_leak` when:

1. it comes from a conversation that an evaluation prompt comes from (its history is the eval prompt's);
2. its prompt is exactly an evaluation prompt (md5 over every message, the character's system message
   included; checked for prompts whose last user message is short, since longer ones fall under 3);
3. it is for the same character (or both have none) and its last user message is a near-duplicate of
   that evaluation prompt's last user message: MinHash (datasketch) over word n-gram shingles, an LSH
   index over the (small) evaluation set, and the estimated Jaccard at or above the threshold. Messages
   under `min_tokens` words are only matched by rule 2: "ok" or "why?" is no evidence of a leak by
   itself. The character matters because the same opener to another character asks for another reply;
   comparing whole prompts instead would let a long system message decide the similarity.

For rule 3 a training text can only reach Jaccard t with some evaluation text if at least t of its own
shingles occur in the evaluation set's shingles at all, so that exact test runs first (a set lookup per
shingle) and MinHash signatures are computed only for the few texts that pass it.
"""

from __future__ import annotations

import re

import pyarrow as pa

from curation.releases.job import BuildError, Job
from curation.releases.rows import last_user_sql, mark, prompt_key_sql, quote, scalar
from lakehouse import catalog
from lakehouse.releases import Release, ReleaseError, list_releases, resolve, verify

NON_WORD = re.compile(r"[^0-9a-z_\s]+")
IN_LIST_LIMIT = 5_000  # conversations per rebuild of suspect prompts


def shingles(text: str, n: int) -> set[str]:
    """Word n-grams of the lower-cased text with punctuation removed (the whole text when shorter)."""
    words = NON_WORD.sub(" ", text.lower()).split()
    if len(words) <= n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def eval_sets(job: Job) -> list[Release]:
    """The frozen evaluation sets this release is checked against (latest version of each)."""
    lake, config = job.inputs.lake, job.entry.leakage
    if config.eval_sets is not None:
        try:
            found = [resolve(lake, name) for name in config.eval_sets]
        except ReleaseError as exc:
            raise BuildError(f"release {job.entry.name}: leakage.eval_sets: {exc}") from None
        not_frozen = [r.ref for r in found if not r.manifest.get("frozen_eval")]
        if not_frozen:
            raise BuildError(
                f"release {job.entry.name}: leakage.eval_sets: {', '.join(not_frozen)} is not a frozen evaluation set"
            )
        return found
    latest = {r.name: r for r in list_releases(lake)}
    return [r for name, r in sorted(latest.items()) if name != job.entry.name and r.manifest.get("frozen_eval")]


def _load(job: Job, sets: list[Release]) -> int:
    for release in sets:
        problems = verify(release)
        if problems:
            raise BuildError(
                f"release {job.entry.name}: evaluation set {release.ref} does not match its manifest: "
                + "; ".join(problems)
            )
    scan = catalog.parquet_scan(job.con, job.inputs.lake, [f for r in sets for f in r.data_files()], "eval_sets")
    job.con.execute(f"""
        CREATE OR REPLACE TEMP TABLE eval_prompts AS
        SELECT sample_id, conversation_id, coalesce(character_id, '') AS character,
               {last_user_sql("prompt")} AS last_user, {prompt_key_sql("prompt")} AS prompt_key,
               len(list_filter(prompt, lambda m: m.role = 'user')) AS depth
        FROM {scan}""")
    return scalar(job.con, "SELECT count(*) FROM eval_prompts")


def _long_enough(column: str, min_tokens: int) -> str:
    return f"len(string_split_regex(trim({column}), '\\s+')) >= {min_tokens}"


def _exact_prompt_keys(job: Job) -> None:
    """`cand_prompt_keys(rid, prompt_key)` for the live candidates that could be an exact copy of an eval
    prompt with a short last user message: same character, depth and last user message. (A copy with a
    longer one is a near-duplicate at Jaccard 1 and rule 3 removes it.) Only their prompts are rebuilt,
    a bounded list of conversations at a time, so the filter reaches the conversations scan."""
    con = job.con
    con.execute(f"""CREATE OR REPLACE TEMP TABLE suspects AS
        SELECT c.rowid AS rid, c.prompt_ref, c.prompt_inline, c.conversation_id FROM cand c
        WHERE c.drop_reason IS NULL AND (coalesce(c.character_id, ''), c.depth, c.last_user) IN (
              SELECT (character, depth, last_user) FROM eval_prompts
              WHERE NOT {_long_enough("last_user", job.entry.leakage.min_tokens)})""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE cand_prompt_keys AS
        SELECT rid, {prompt_key_sql("prompt_inline")} AS prompt_key FROM suspects WHERE prompt_inline IS NOT NULL""")
    conversations = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT conversation_id FROM suspects WHERE prompt_ref IS NOT NULL ORDER BY 1"
        ).fetchall()
    ]
    for start in range(0, len(conversations), IN_LIST_LIMIT):
        scope = ", ".join(quote(c) for c in conversations[start : start + IN_LIST_LIMIT])
        con.execute(f"""INSERT INTO cand_prompt_keys
            SELECT s.rid, {prompt_key_sql("r.prompt")} FROM suspects s
            JOIN (SELECT sample_id, prompt FROM release_samples WHERE conversation_id IN ({scope})) r
              ON r.sample_id = s.prompt_ref""")


def _near_duplicates(job: Job) -> pa.Table:
    """Distinct (character, last user message) of live candidates that near-duplicate an eval prompt's."""
    from datasketch import MinHash, MinHashLSH

    config = job.entry.leakage
    long_enough = _long_enough("last_user", config.min_tokens)
    eval_rows = job.con.execute(
        f"SELECT DISTINCT character, last_user FROM eval_prompts WHERE last_user IS NOT NULL "
        f"AND {long_enough} ORDER BY 1, 2"
    ).fetchall()
    leaked: dict[str, list] = {"character": [], "last_user": []}
    if not eval_rows:
        return pa.table(leaked, schema=pa.schema([("character", pa.string()), ("last_user", pa.string())]))

    template = MinHash(num_perm=config.num_perm, seed=1)

    def signature(shingle_set: set[str]) -> MinHash:
        """MinHash sharing the template's permutations (drawing them is most of a new MinHash's cost)."""
        m = MinHash(num_perm=config.num_perm, seed=1, permutations=template.permutations, scheme=template.scheme)
        m.update_batch([s.encode() for s in sorted(shingle_set)])
        return m

    lsh = MinHashLSH(threshold=config.threshold, num_perm=config.num_perm)
    universe: dict[str, set[str]] = {}  # character -> every shingle of its eval messages
    signatures = {}
    for i, (character, text) in enumerate(eval_rows):
        shingle_set = shingles(text, config.shingle_words)
        universe.setdefault(character, set()).update(shingle_set)
        signatures[i] = (character, signature(shingle_set))
        lsh.insert(i, signatures[i][1])
    rows = job.con.sql(
        f"SELECT DISTINCT coalesce(character_id, '') AS character, last_user FROM cand "
        f"WHERE drop_reason IS NULL AND last_user IS NOT NULL AND {long_enough}"
    ).to_arrow_table()
    for character, text in zip(rows["character"].to_pylist(), rows["last_user"].to_pylist(), strict=True):
        known = universe.get(character)
        if not known:
            continue
        shingle_set = shingles(text, config.shingle_words)
        if not shingle_set or sum(s in known for s in shingle_set) < config.threshold * len(shingle_set):
            continue
        candidate = signature(shingle_set)
        if any(
            signatures[key][0] == character and candidate.jaccard(signatures[key][1]) >= config.threshold
            for key in lsh.query(candidate)
        ):
            leaked["character"].append(character)
            leaked["last_user"].append(text)
    return pa.table(leaked, schema=pa.schema([("character", pa.string()), ("last_user", pa.string())]))


def check(job: Job) -> dict:
    """Drop every candidate that leaks an evaluation prompt; returns the manifest's `leakage` section."""
    config = job.entry.leakage
    section = {
        "threshold": config.threshold,
        "num_perm": config.num_perm,
        "shingle_words": config.shingle_words,
        "min_tokens": config.min_tokens,
        "text": "last user message, same character",
        "eval_sets": [],
    }
    if job.entry.frozen_eval:
        section["eval_sets"] = None
        return section
    sets = eval_sets(job)
    if not sets:
        job.notes.append("no frozen evaluation prompt set in the lake: the leakage check had nothing to check")
        return section
    prompts = _load(job, sets)
    section["eval_sets"] = [{"ref": r.ref, "content_hash": r.manifest["content_hash"]} for r in sets]
    section["eval_prompts"] = prompts
    for release in sets:
        job.releases_read[release.ref] = {"content_hash": release.manifest["content_hash"], "role": "eval_set"}
    con = job.con
    same_conversation = mark(
        con,
        "eval_leak",
        "conversation_id IN (SELECT conversation_id FROM eval_prompts WHERE conversation_id IS NOT NULL)",
    )
    _exact_prompt_keys(job)
    exact = mark(
        con,
        "eval_leak",
        "rowid IN (SELECT rid FROM cand_prompt_keys WHERE prompt_key IN (SELECT prompt_key FROM eval_prompts))",
    )
    con.register("leaked", _near_duplicates(job))
    near = mark(
        con,
        "eval_leak",
        "rowid IN (SELECT c.rowid FROM cand c JOIN leaked l ON l.last_user = c.last_user "
        "AND l.character = coalesce(c.character_id, ''))",
    )
    con.unregister("leaked")
    section.update(
        same_conversation=same_conversation,
        exact_prompt=exact,
        near_duplicate=near,
        removed=same_conversation + exact + near,
    )
    return section
