"""The labeling screen: one item at a time, a form per task kind, keyboard shortcuts for every choice.

Two sets of shortcuts, as in Label Studio: plain keys (1, 2, 3, ...) pick a choice and Space submits the
pick; Alt+... submits a choice at once. Streamlit ignores plain keys while a text box has focus and lets
modifier keys through, so typing digits in a rewrite or a reason never fires a choice, while Alt+1 from
inside the reason box submits with the reason typed so far. The plain-key buttons live in an off-screen
container (style.py); the visible buttons show the pick.

The item on screen is in the address (`?queue=...&task=...`) so a reload resumes it; an id there that
is not assigned to the signed-in annotator is refused without showing anything of that item. The last
label can be undone for the queue's `undo_seconds` (a retraction in the store; the item comes back).
Reviewers lease an item only once they choose to label a queue, so browsing never holds items back.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import streamlit as st

from labeling_app import annotators, values
from labeling_app.config import ANSWERS
from labeling_app.store import Assignment, Queue, Store, StoreError
from labeling_app.ui import interactive_page, render
from labeling_app.ui.session import User

MAX_TASK_ID = 2**63 - 1
# (label, choice, strength, Alt shortcut (submits), plain key (picks), tooltip)
PAIRWISE_BUTTONS = (
    ("A ≫ B", "A", "strong", "Alt+Shift+1", "1", "A is much better"),
    ("A > B", "A", None, "Alt+1", "2", "A is better"),
    ("Tie", "tie", None, "Alt+0", "3", "Neither is better"),
    ("B > A", "B", None, "Alt+2", "4", "B is better"),
    ("B ≫ A", "B", "strong", "Alt+Shift+2", "5", "B is much better"),
)
ANSWER_KEYS = dict(zip(ANSWERS, ("Y", "N", "U"), strict=True))
ANSWER_PLAIN_KEYS = dict(zip(ANSWERS, ("1", "2", "3"), strict=True))


def page(store: Store, user: User) -> None:
    queues = store.queues()
    if not queues:
        st.info("No queues yet. A reviewer creates one on the Admin page, or run `flywheel label queue create`.")
        return
    queue = _pick_queue(queues)
    flash = st.session_state.pop("flash", None)
    if flash:
        st.toast(flash)
    _undo(store, user)
    if not _wants_items(queue, user):
        return
    assignment = _current_assignment(store, queue, user)
    with st.sidebar:
        _progress(store, queue, user)
    if assignment is None:
        st.success("Nothing left for you in this queue. Thank you!")
        return
    task_id = assignment.task.task_id
    st.session_state.setdefault(f"shown-{task_id}", time.monotonic())
    _header(queue, task_id)
    FORMS[queue.kind](store, queue, assignment, user)
    _skip_form(store, queue, assignment, user)


def _pick_queue(queues: list[Queue]) -> Queue:
    by_name = {q.name: q for q in queues}
    wanted = st.query_params.get("queue")
    names = list(by_name)
    name = st.sidebar.selectbox(
        "Queue",
        names,
        index=names.index(wanted) if wanted in by_name else 0,
        format_func=lambda n: f"{n} ({by_name[n].kind})",
        key="queue_pick",
    )
    if st.query_params.get("queue") != name:
        st.query_params["queue"] = name
        st.query_params.pop("task", None)
    return by_name[name]


def _wants_items(queue: Queue, user: User) -> bool:
    """Annotators always label; a reviewer (not in local mode) leases items only after asking to."""
    if not user.is_reviewer or user.name == annotators.LOCAL_USER:
        return True
    key = f"reviewer-labels-{queue.queue_id}"
    if st.session_state.get(key) or st.query_params.get("task"):
        return True
    st.info("Reviewers are not handed items unless they ask: nothing in this queue is held for you.")
    if st.button("Label items in this queue", key=f"start-{queue.queue_id}", type="primary"):
        st.session_state[key] = True
        st.rerun()
    return False


def _undo(store: Store, user: User) -> None:
    """A sidebar button that takes back the last label while the queue's undo window is open."""
    last = st.session_state.get("last_label")
    if not last or time.time() - last["at"] > last["window"]:
        return
    with st.sidebar:
        if not st.button(
            f"Undo label on item {last['task_id']}",
            key="undo",
            icon=":material/undo:",
            shortcut="Alt+Z",
            help=f"Within {last['window']:g} s of saving; the label is kept in the history, marked undone.",
        ):
            return
    try:
        task_id = store.retract(last["label_id"], user.name)
    except StoreError as exc:
        st.session_state.pop("last_label", None)
        st.sidebar.error(render.md_escape(str(exc)))
        return
    st.session_state.pop("last_label", None)
    for key in ("submission", "pick", "shown"):  # a fresh submission id, no old pick, timing from now
        st.session_state.pop(f"{key}-{task_id}", None)
    st.session_state["flash"] = f"Undid the label on item {task_id}: label it again."
    st.query_params["task"] = str(task_id)
    st.rerun()


def _current_assignment(store: Store, queue: Queue, user: User) -> Assignment | None:
    raw = st.query_params.get("task")
    if raw is not None:
        assignment = _from_address(store, queue, user, raw)
        if assignment is not None:
            return assignment
        st.query_params.pop("task", None)
    assignment = store.next_task(queue.queue_id, user.name)
    if assignment is not None:
        st.query_params["task"] = str(assignment.task.task_id)
    return assignment


def _from_address(store: Store, queue: Queue, user: User, raw: str) -> Assignment | None:
    """The item named in the address, only if it is this annotator's open item in this queue."""
    try:
        task_id = int(raw)
    except ValueError:
        task_id = None
    if task_id is None or not 0 < task_id <= MAX_TASK_ID:
        st.warning("The address names no valid item; here is your next item instead.")
        return None
    assignment = store.assignment(task_id, user.name)
    if assignment is None or assignment.task.queue_id != queue.queue_id:
        st.warning(f"Item {task_id} is not assigned to you; here is your next item instead.")
        return None
    if assignment.state not in ("open", "expired"):
        verb = "labeled" if assignment.state == "done" else "skipped"
        st.info(f"You already {verb} item {task_id}; here is your next item.")
        return None
    return assignment


def _progress(store: Store, queue: Queue, user: User) -> None:
    mine = store.count_labels(queue.queue_id, user.name)
    share = queue.n_labels / queue.target_labels if queue.target_labels else 0.0
    st.progress(
        min(share, 1.0),
        text=f"Queue: {queue.n_labels:,} of {queue.target_labels:,} labels, "
        f"{queue.n_complete:,} of {queue.n_tasks:,} items complete. You: {mine:,} labels.",
    )


def _header(queue: Queue, task_id: int) -> None:
    left, right = st.columns([5, 1], vertical_alignment="center")
    left.markdown(f"**{render.md_escape(queue.name)}** ({queue.kind}), item {task_id}")
    with right.popover("Guideline", icon=":material/menu_book:", width="stretch"):
        st.markdown(queue.spec["guideline"])
        st.caption(f"Guideline version {render.md_escape(queue.spec['guideline_version'])}")


def _submit(store: Store, assignment: Assignment, user: User, raw: dict) -> None:
    task_id = assignment.task.task_id
    shown = st.session_state.get(f"shown-{task_id}")
    seconds = round(time.monotonic() - shown, 3) if shown is not None else None
    submission_id = st.session_state.setdefault(f"submission-{task_id}", uuid.uuid4().hex)
    try:
        saved = store.submit(task_id, user.name, user.role, raw, seconds=seconds, submission_id=submission_id)
    except (values.LabelError, StoreError) as exc:
        st.error(render.md_escape(str(exc)))
        return
    window = float(store.queue(assignment.task.queue_id).spec.get("undo_seconds", 0))
    if window > 0:
        st.session_state["last_label"] = {
            "label_id": saved.label_id,
            "task_id": task_id,
            "at": time.time(),
            "window": window,
        }
    st.session_state["flash"] = f"Saved item {task_id}."
    st.query_params.pop("task", None)
    st.rerun()


def _plain_keys(task_id: int, keys: list[tuple[str, str, Callable[..., None], tuple]]) -> None:
    """Off-screen buttons for the plain-key shortcuts: (key, label, callback, args) each."""
    with st.container(key=f"plain_keys-{task_id}"):
        for key, label, callback, args in keys:
            st.button(f"key {key}: {label}", key=f"plain-{task_id}-{key}", shortcut=key, on_click=callback, args=args)


def _set_pick(state_key: str, value: object) -> None:
    st.session_state[state_key] = value


def _pick_caption(pick_label: str | None) -> str:
    if pick_label is None:
        return "Keys: 1-5 pick, Space submits; Alt+key submits at once."
    return f"Picked **{render.md_escape(pick_label)}**: Space (or Submit) stores it."


def pairwise_form(store: Store, queue: Queue, assignment: Assignment, user: User) -> None:
    task = assignment.task
    sides = assignment.sides or [0, 1]
    candidates = task.payload["candidates"]
    pick_key = f"pick-{task.task_id}"
    _plain_keys(task.task_id, [(b[4], b[0], _set_pick, (pick_key, i)) for i, b in enumerate(PAIRWISE_BUTTONS)])
    picked = st.session_state.get(pick_key)
    chosen = None
    with st.container(key="item_box"):
        render.item(
            task.payload, str(task.task_id), [("A", candidates[sides[0]]["text"]), ("B", candidates[sides[1]]["text"])]
        )
        with st.form(f"pairwise-{task.task_id}", border=False), st.container(key="choice_bar"):
            columns = st.columns([1.25, 1, 0.9, 1, 1.25, 1.1], gap="small")
            for index, (column, (label, choice, strength, shortcut, plain, tip)) in enumerate(
                zip(columns, PAIRWISE_BUTTONS, strict=False)
            ):
                if column.form_submit_button(
                    label,
                    key=f"pairwise-{choice}-{strength}-{task.task_id}",
                    type="primary" if picked == index else "secondary",
                    shortcut=shortcut,
                    width="stretch",
                    help=f"{tip} (key {plain} picks, {shortcut} submits)",
                ):
                    chosen = (choice, strength)
            if columns[-1].form_submit_button(
                "Submit", key=f"pairwise-submit-{task.task_id}", shortcut="Space", width="stretch"
            ):
                if picked is None:
                    st.error("Pick a choice first (keys 1-5), or click one.")
                else:
                    chosen = PAIRWISE_BUTTONS[picked][1:3]
            left, right = st.columns([3, 2], vertical_alignment="center")
            reason = left.text_input(
                "Reason (optional)",
                key=f"reason-{task.task_id}",
                max_chars=values.MAX_NOTE_CHARS,
                placeholder="Reason (optional)",
                label_visibility="collapsed",
            )
            right.caption(_pick_caption(None if picked is None else PAIRWISE_BUTTONS[picked][0]))
    if chosen is not None:
        _submit(store, assignment, user, {"choice": chosen[0], "strength": chosen[1], "reason": reason})


def _set_answer(state_key: str, question: str, answer: str) -> None:
    st.session_state[state_key] = {**st.session_state.get(state_key, {}), question: answer}


def questionnaire_form(store: Store, queue: Queue, assignment: Assignment, user: User) -> None:
    """Every question answered with buttons; Alt+Y/N/U answers the first open question (marked ▶)."""
    task = assignment.task
    render.item(task.payload, str(task.task_id), [("Reply", task.payload["candidates"][0]["text"])])
    questions = queue.spec["questions"]
    state_key = f"answers-{task.task_id}"
    answers = st.session_state.setdefault(state_key, {})
    current = next((q["id"] for q in questions if q["id"] not in answers), None)
    if current is not None:
        _plain_keys(
            task.task_id,
            [(ANSWER_PLAIN_KEYS[a], a, _set_answer, (state_key, current, a)) for a in ANSWERS],
        )
    for number, question in enumerate(questions, start=1):
        row = st.columns([5, 1, 1, 1.3], vertical_alignment="center")
        marker = "▶ " if question["id"] == current else ""
        row[0].markdown(f"{marker}**{number}.** {render.md_escape(question['text'])}")
        for column, answer in zip(row[1:], ANSWERS, strict=True):
            column.button(
                answer.capitalize(),
                key=f"q-{task.task_id}-{question['id']}-{answer}",
                type="primary" if answers.get(question["id"]) == answer else "secondary",
                shortcut=f"Alt+{ANSWER_KEYS[answer]}" if question["id"] == current else None,
                on_click=_set_answer,
                args=(state_key, question["id"], answer),
                width="stretch",
            )
    complete = all(q["id"] in answers for q in questions)
    st.caption("Keys: 1 yes, 2 no, 3 unsure (or Alt+Y/N/U) answer the question marked ▶; Space submits.")
    if complete:
        _plain_keys(task.task_id, [("Space", "submit", _set_pick, (f"q-space-{task.task_id}", True))])
    submit = st.button(
        "Submit answers", key=f"q-submit-{task.task_id}", type="primary", disabled=not complete, shortcut="Alt+Enter"
    )
    if submit or st.session_state.pop(f"q-space-{task.task_id}", False):
        _submit(store, assignment, user, {"answers": dict(answers)})


def rating_form(store: Store, queue: Queue, assignment: Assignment, user: User) -> None:
    """Score buttons under a legend that gives every anchor in full; a digit picks, Space or Alt+digit submits."""
    task = assignment.task
    scale = queue.spec["rating"]
    scores = list(range(scale["min"], scale["max"] + 1))
    anchors = {s: scale["labels"].get(str(s), "") for s in scores}
    pick_key = f"pick-{task.task_id}"
    _plain_keys(task.task_id, [(str(s % 10), str(s), _set_pick, (pick_key, s)) for s in scores])
    picked = st.session_state.get(pick_key)
    chosen = None
    with st.container(key="item_box"):
        render.item(task.payload, str(task.task_id), [("Reply", task.payload["candidates"][0]["text"])])
        with st.form(f"rating-{task.task_id}", border=False), st.container(key="choice_bar"):
            st.caption(" · ".join(f"**{s}** {render.md_escape(a)}".rstrip() for s, a in anchors.items()))
            for column, score in zip(st.columns(len(scores)), scores, strict=True):
                if column.form_submit_button(
                    f"{score}: {anchors[score]}".rstrip(": "),
                    key=f"rating-{score}-{task.task_id}",
                    shortcut=f"Alt+{score % 10}",
                    type="primary" if picked == score else "secondary",
                    width="stretch",
                    wrap=False,
                ):
                    chosen = score
            note_column, submit_column, keys_column = st.columns([3, 1, 2], vertical_alignment="center")
            note = note_column.text_input(
                "Note (optional)",
                key=f"note-{task.task_id}",
                max_chars=values.MAX_NOTE_CHARS,
                placeholder="Note (optional)",
                label_visibility="collapsed",
            )
            if submit_column.form_submit_button(
                "Submit", key=f"rating-submit-{task.task_id}", shortcut="Space", width="stretch"
            ):
                if picked is None:
                    st.error("Pick a score first (a digit key), or click one.")
                else:
                    chosen = picked
            keys_column.caption(
                f"Picked **{picked}**: Space (or Submit) stores it."
                if picked is not None
                else "Keys: a digit picks, Space submits; Alt+digit submits at once."
            )
    if chosen is not None:
        _submit(store, assignment, user, {"score": chosen, "note": note})


def rewrite_form(store: Store, queue: Queue, assignment: Assignment, user: User) -> None:
    task = assignment.task
    original = task.payload["candidates"][0]["text"]
    render.character_card(task.payload)
    render.conversation(task.payload, str(task.task_id))
    st.markdown("**Original reply**")
    render.text_box(original)
    with st.form(f"rewrite-{task.task_id}", border=False):
        text = st.text_area(
            "Your rewrite",
            value=original,
            height=260,
            key=f"rewrite-{task.task_id}",
            max_chars=values.MAX_REWRITE_CHARS,
        )
        note = st.text_input("Note (optional)", key=f"note-{task.task_id}", max_chars=values.MAX_NOTE_CHARS)
        left, right = st.columns(2)
        preview = left.form_submit_button("Show diff", key=f"diff-{task.task_id}", shortcut="Alt+D", width="stretch")
        submit = right.form_submit_button(
            "Submit rewrite", key=f"submit-{task.task_id}", type="primary", shortcut="Alt+Enter", width="stretch"
        )
    if preview:
        st.code(
            values.rewrite_diff(original, text) or "(no change: submitting keeps the reply as it is)", language="diff"
        )
    if submit:
        _submit(store, assignment, user, {"text": text, "note": note})


def _skip_form(store: Store, queue: Queue, assignment: Assignment, user: User) -> None:
    task_id = assignment.task.task_id
    with st.expander("Skip this item"), st.form(f"skip-{task_id}", border=False):
        reason = st.radio("Reason", queue.spec["skip_reasons"], index=None, key=f"skip-reason-{task_id}")
        detail = st.text_input("Details (optional)", key=f"skip-detail-{task_id}", max_chars=500)
        if not st.form_submit_button("Skip item", key=f"skip-{task_id}"):
            return
    if reason is None:
        st.error("Pick a reason to skip this item.")
        return
    try:
        store.skip(task_id, user.name, f"{reason}: {detail.strip()}" if detail.strip() else reason)
    except StoreError as exc:
        st.error(render.md_escape(str(exc)))
        return
    st.session_state["flash"] = f"Skipped item {task_id}."
    st.query_params.pop("task", None)
    st.rerun()


FORMS = {"pairwise": pairwise_form, "questionnaire": questionnaire_form, "rating": rating_form, "rewrite": rewrite_form}
FORMS["interactive"] = interactive_page.form
