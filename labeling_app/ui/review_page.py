"""The review screen: progress, agreement, the disagreements to adjudicate, consensus and export."""

from __future__ import annotations

import io
import uuid

import streamlit as st

from labeling_app import values
from labeling_app.config import ANSWERS
from labeling_app.consensus import QueueAnalysis, analyze
from labeling_app.store import Queue, Store, StoreError
from labeling_app.ui import render
from labeling_app.ui.session import User

TABLE_ROWS = 5_000


@st.cache_data(max_entries=16, show_spinner="Computing agreement...")
def _analysis(store_path: str, queue_id: int, version: tuple) -> QueueAnalysis:
    """Cached per queue until a label is added (`version` changes with every label)."""
    with Store(store_path, read_only=True) as store:
        return analyze(store.queue(queue_id), store.labels(queue_id))


def page(store: Store, user: User) -> None:
    queues = store.queues()
    if not queues:
        st.info("No queues yet.")
        return
    flash = st.session_state.pop("review_flash", None)
    if flash:
        st.success(flash)
    _progress(store, queues)
    names = [q.name for q in queues]
    name = st.selectbox("Queue to review", names, key="review_queue")
    queue = next(q for q in queues if q.name == name)
    version = store.con.execute(
        "SELECT count(*), max(label_id), (SELECT count(*) FROM retractions) FROM labels WHERE queue_id = ?",
        (queue.queue_id,),
    ).fetchone()
    analysis = _analysis(str(store.path), queue.queue_id, tuple(version))
    _agreement(analysis)
    adjudicate, consensus, quality, export = st.tabs(["Disagreements", "Consensus", "Quality", "Export"])
    with adjudicate:
        _disagreements(store, queue, analysis, user)
    with consensus:
        _consensus(analysis)
    with quality:
        _quality(store, queue, queues, analysis)
    with export:
        _export(store, queue, analysis)


def _progress(store: Store, queues: list[Queue]) -> None:
    st.subheader("Progress per queue")
    st.dataframe(
        [
            {
                "queue": q.name,
                "kind": q.kind,
                "items": q.n_tasks,
                "per item": q.per_item,
                "labels": q.n_labels,
                "target": q.target_labels,
                "complete items": q.n_complete,
                "done %": round(100 * q.n_labels / q.target_labels, 1) if q.target_labels else 0.0,
            }
            for q in queues
        ],
        hide_index=True,
    )
    st.subheader("Progress per annotator")
    rows = store.annotator_progress()
    if rows:
        st.dataframe([{k: v for k, v in r.items() if k != "queue_id"} for r in rows], hide_index=True)
    else:
        st.caption("No assignments yet.")


def _agreement(analysis: QueueAnalysis) -> None:
    st.subheader("Agreement")
    bar = analysis.queue.spec.get("min_agreement")
    rows = []
    for question in analysis.questions:
        items = [i for i in analysis.items if i.question == question.id]
        alpha = analysis.alpha[question.id]
        rows.append(
            {
                "question": question.id,
                "Krippendorff's alpha": "n/a" if alpha is None else f"{alpha:.3f}",
                "level": question.level,
                "items labeled": len(items),
                "items with 2+ labels": sum(1 for i in items if i.n_annotators >= 2),
                "kept": sum(i.kept for i in items),
                "adjudicated": sum(i.adjudicated for i in items),
            }
        )
    st.dataframe(rows, hide_index=True)
    st.caption(
        f"Kept: all labels in and at least {bar:.0%} agreeing, or adjudicated. Alpha is n/a until some "
        "item has two labels and the labels vary."
    )
    if analysis.annotators:
        st.markdown("**Each annotator against the consensus**")
        st.dataframe(
            [
                {**r, "agreement": _round(r["agreement"]), "loo_agreement": _round(r["loo_agreement"])}
                for r in analysis.annotators
            ],
            hide_index=True,
        )
        st.caption(
            "agreement: with the item's consensus (the reviewer's decision where there is one). "
            "loo: leave-one-out, with the consensus of the other annotators only (items where the "
            "others split are not compared)."
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _vote_text(kind: str, value: dict) -> str:
    if kind == "pairwise":
        if value["tie"]:
            return "tie"
        return f"candidate {value['preferred'] + 1}" + (" (much better)" if value.get("strength") else "")
    if kind == "questionnaire":
        return ", ".join(f"{q}={a}" for q, a in value["answers"].items())
    if kind == "rating":
        return str(value["score"])
    if kind == "interactive":
        return f"chat of {value['turns']} judged turns"
    return "edited" if value["changed"] else "unchanged"


def _disagreements(store: Store, queue: Queue, analysis: QueueAnalysis, user: User) -> None:
    flagged = analysis.disagreements()
    if not flagged:
        st.success("No disagreements to adjudicate in this queue.")
        return
    st.caption(
        f"{len(flagged):,} items with two or more labels and no clear majority. Your decision is stored as "
        "an adjudication and becomes the item's consensus."
    )
    task_id = st.selectbox("Item", flagged, key=f"adjudicate-{queue.queue_id}", format_func=lambda t: f"item {t}")
    task = store.task(task_id)
    labels = [lab for lab in store.labels(task_id=task_id) if not lab["is_adjudication"]]
    st.dataframe(
        [
            {
                "annotator": lab["annotator"],
                "label": _vote_text(queue.kind, lab["value"]),
                "note": lab["value"].get("reason") or lab["value"].get("note"),
                "seconds": lab["seconds"],
            }
            for lab in labels
        ],
        hide_index=True,
    )
    candidates = task.payload["candidates"]
    if queue.kind == "pairwise":
        render.item(
            task.payload, f"adj-{task_id}", [(f"Candidate {i + 1}", c["text"]) for i, c in enumerate(candidates)]
        )
    elif queue.kind == "rewrite":
        render.character_card(task.payload)
        render.conversation(task.payload, f"adj-{task_id}")
        st.markdown("**Original reply**")
        render.text_box(candidates[0]["text"])
        for label in labels:
            if label["value"]["changed"]:
                st.markdown(f"**Diff by {render.md_escape(label['annotator'])}**")
                st.code(label["value"]["diff"], language="diff")
    else:
        render.item(task.payload, f"adj-{task_id}", [("Reply", candidates[0]["text"])])
    decision = _decision_form(queue, task_id, candidates, labels)
    if decision is None:
        return
    try:
        store.adjudicate(task_id, user.name, decision, submission_id=uuid.uuid4().hex)
    except (values.LabelError, StoreError) as exc:
        st.error(render.md_escape(str(exc)))
        return
    st.session_state["review_flash"] = f"Adjudicated item {task_id}."
    st.rerun()


def _decision_form(queue: Queue, task_id: int, candidates: list[dict], labels: list[dict]) -> dict | None:
    """The reviewer's decision in the store's terms (pairwise in candidate order: A = candidate 1)."""
    with st.form(f"decision-{task_id}"):
        st.markdown("**Your decision**")
        value: dict[str, object]
        if queue.kind == "pairwise":
            choice = st.radio(
                "Better reply",
                ["A", "B", "tie"],
                horizontal=True,
                index=None,
                format_func={"A": "Candidate 1", "B": "Candidate 2", "tie": "Tie"}.get,
            )
            strong = st.checkbox("Much better")
            reason = st.text_input("Reason (optional)")
            value = {"choice": choice, "strength": "strong" if strong and choice != "tie" else None, "reason": reason}
        elif queue.kind == "questionnaire":
            answers = {
                q["id"]: st.radio(q["text"], ANSWERS, horizontal=True, index=None, key=f"adj-{task_id}-{q['id']}")
                for q in queue.spec["questions"]
            }
            value = {"answers": {q: a for q, a in answers.items() if a is not None}}
        elif queue.kind == "rating":
            scale = queue.spec["rating"]
            value = {
                "score": st.radio("Score", list(range(scale["min"], scale["max"] + 1)), horizontal=True, index=None)
            }
        else:
            rewrites = [lab["value"]["text"] for lab in labels if lab["value"]["changed"]]
            value = {
                "text": st.text_area(
                    "Final reply (keep it unchanged to decide that no rewrite was needed)",
                    value=rewrites[0] if rewrites else candidates[0]["text"],
                    height=220,
                )
            }
        if not st.form_submit_button("Store decision", type="primary"):
            return None
    if value.get("choice", "") is None or value.get("score", 0) is None:
        st.error("Pick a decision first.")
        return None
    return value


def _consensus(analysis: QueueAnalysis) -> None:
    kept_only = st.toggle("Kept items only", key=f"kept-{analysis.queue.queue_id}")
    rows = [
        {
            "item": i.task_id,
            "question": i.question,
            "consensus": i.answer,
            "agreement": round(i.agreement, 3),
            "agreeing": i.n_agreeing,
            "annotators": i.n_annotators,
            "adjudicated": i.adjudicated,
            "kept": i.kept,
        }
        for i in analysis.items
        if i.kept or not kept_only
    ]
    st.caption(
        f"{len(rows):,} rows"
        + (f"; the first {TABLE_ROWS:,} are shown, export for all" if len(rows) > TABLE_ROWS else "")
    )
    st.dataframe(rows[:TABLE_ROWS], hide_index=True)


def _quality(store: Store, queue: Queue, queues: list[Queue], analysis: QueueAnalysis) -> None:
    """Accuracy on gold items, agreement with the consensus per day, and every queue's pace per hour."""
    from labeling_app import quality

    st.markdown("**Accuracy on gold items** (known answers, mixed in at the queue's gold rate)")
    gold = quality.gold_accuracy(queue, store.labels(queue.queue_id, gold=True))
    if gold:
        st.dataframe([{**r, "accuracy": round(r["accuracy"], 3)} for r in gold], hide_index=True, key="gold_table")
    else:
        rate = queue.spec.get("gold_rate", 0.0)
        st.caption(
            f"No gold labels yet (gold rate {rate:.0%}). Add gold items with "
            "`flywheel label queue gold NAME --from SOURCE`."
        )
    st.markdown("**Agreement with the consensus, per annotator and day**")
    over_time = quality.agreement_over_time(analysis, store.labels(queue.queue_id))
    if over_time:
        st.line_chart(over_time, x="day", y="agreement", color="annotator", height=220)
    else:
        st.caption("No item has a consensus yet.")
    st.markdown("**Throughput and time per item, per queue and hour**")
    pace = quality.throughput({q.queue_id: q.name for q in queues}, store.labels())
    if pace:
        left, right = st.columns(2)
        left.bar_chart(pace, x="hour", y="labels", color="queue", height=220)
        timed = [r for r in pace if r["median seconds per item"] is not None]
        if timed:
            right.line_chart(timed, x="hour", y="median seconds per item", color="queue", height=220)
        else:
            right.caption("No label has its time on screen (labels from the command line or imports).")
        st.dataframe(pace, hide_index=True, key="pace_table")
    else:
        st.caption("No labels yet.")


def _queue_parquet(store_path: str, queue_id: int) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from labeling_app.snapshot import consensus_rows
    from lakehouse import schemas

    with Store(store_path, read_only=True) as store:
        queue = store.queue(queue_id)
        labels = store.labels(queue_id)
        tasks = {t.task_id: t for t in store.tasks(queue_id)}
        rows = consensus_rows(analyze(queue, labels), tasks, labels)
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schemas.LABEL_CONSENSUS), buffer, compression="zstd")
    return buffer.getvalue()


def _export(store: Store, queue: Queue, analysis: QueueAnalysis) -> None:
    st.download_button(
        "Download this queue's consensus (Parquet)",
        data=lambda: _queue_parquet(str(store.path), queue.queue_id),
        file_name=f"consensus-{queue.queue_id}.parquet",
        mime="application/vnd.apache.parquet",
        key=f"download-{queue.queue_id}",
    )
    st.caption(
        "Or write the snapshot of every queue into the lake (the catalog's labels, labels_tasks and "
        "labels_consensus views), as `flywheel label snapshot` does."
    )
    if st.button("Write snapshot to the lake", key="snapshot"):
        from labeling_app.snapshot import snapshot

        result = snapshot(store.path.parent.parent)
        st.success(result.summary())
