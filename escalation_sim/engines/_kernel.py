"""Compiled event loop and Monte Carlo block kernels (private).

The event loop reproduces the SimPy reference engine's order of events exactly
(see ``simpy_engine`` and ``docs/model.md``, "Order of events"):

* deliveries wait in a binary heap keyed by ``(time, 2 + kind, sequence)``,
  the sequence being the order in which they were sent (SimPy's event id);
* what SimPy does at one instant at priority NORMAL is replayed by a FIFO of
  two entry types: ``PUT`` (a store put event: wakes the actor if it waits and
  its inbox holds a message) and ``GET`` (the actor handles a message, then
  takes the next one from its inbox or waits again);
* a delivery taken from the heap (the FIFO is then empty, and every actor waits
  on an empty inbox) is handled at once: its PUT and GET entries would do the
  same and nothing else;
* the run stops after the handler that ends it, or when the next delivery is
  due at or after the horizon.

The rules themselves are :func:`escalation_sim.model.rules.handle`, the same
compiled function the SimPy engine calls.

Kernels take arrays in and fill arrays out. The public wrapper is
:mod:`escalation_sim.engines.montecarlo`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..model import measures, rules
from ..model.constants import (
    INFO_FIELDS,
    M_KIND,
    MAX_OUT,
    MSG_FIELDS,
    N_ACTORS,
    N_STREAMS,
    O_DELAY,
    O_DELAYED,
    O_MSG,
    O_TARGET,
    OUT_FIELDS,
    PRIORITY_BASE,
    STATE_SIZE,
    WAR_OUTCOME,
    X_ABANDONED,
    X_ALLY_OPENED,
    X_AUDIENCE_PAID,
    X_C_FORCE,
    X_C_TYPE,
    X_CHALLENGE_TIME,
    X_DETECTED,
    X_END_TIME,
    X_ERROR,
    X_EVENTS,
    X_FINAL_TERMS,
    X_INADVERTENT,
    X_NEED,
    X_OUTCOME,
    X_PROGRAMME_STARTED,
    X_PROLIFERATED,
    X_REASSURANCE_COST,
)
from ..model.decision import SCRATCH_SIZE

POOL = 256  # messages alive at once (in flight or in inboxes)
INBOX = 64  # per actor
FIFO = 512
SEQ_BITS = 40  # heap key = priority << SEQ_BITS | sequence

ERR_OVERFLOW = 1
ERR_RULE = 2  # a rule met an unknown strategy code

PUT = 0
GET = 1

# integer workspace layout: counters and ring buffers in one int64 array
W_FREE_TOP = 0
W_HEAP_N = 1
W_FIFO_HEAD = 2
W_FIFO_LEN = 3
W_SEQ = 4
W_ERR = 5
W_IB_HEAD = 8  # N_ACTORS entries
W_IB_LEN = W_IB_HEAD + N_ACTORS
W_WAITING = W_IB_LEN + N_ACTORS
W_FREE = W_WAITING + N_ACTORS  # POOL entries: stack of free slots
W_HEAP_KEY = W_FREE + POOL
W_HEAP_SLOT = W_HEAP_KEY + POOL
W_TARGET = W_HEAP_SLOT + POOL  # target actor of each slot
W_IB = W_TARGET + POOL  # N_ACTORS * INBOX
W_FIFO_TYPE = W_IB + N_ACTORS * INBOX
W_FIFO_ACTOR = W_FIFO_TYPE + FIFO
W_FIFO_SLOT = W_FIFO_ACTOR + FIFO
W_SIZE = W_FIFO_SLOT + FIFO


@njit(cache=True)
def _heap_less(ht, w, i, j):
    if ht[i] != ht[j]:
        return ht[i] < ht[j]
    return w[W_HEAP_KEY + i] < w[W_HEAP_KEY + j]


@njit(cache=True)
def _heap_swap(ht, w, i, j):
    t = ht[i]
    ht[i] = ht[j]
    ht[j] = t
    k = w[W_HEAP_KEY + i]
    w[W_HEAP_KEY + i] = w[W_HEAP_KEY + j]
    w[W_HEAP_KEY + j] = k
    s = w[W_HEAP_SLOT + i]
    w[W_HEAP_SLOT + i] = w[W_HEAP_SLOT + j]
    w[W_HEAP_SLOT + j] = s


@njit(cache=True)
def _heap_push(ht, w, t, key, slot):
    i = w[W_HEAP_N]
    w[W_HEAP_N] = i + 1
    ht[i] = t
    w[W_HEAP_KEY + i] = key
    w[W_HEAP_SLOT + i] = slot
    while i > 0:
        parent = (i - 1) >> 1
        if _heap_less(ht, w, i, parent):
            _heap_swap(ht, w, i, parent)
            i = parent
        else:
            break


@njit(cache=True, inline="always")
def _heap_pop(ht, w):
    """Remove the heap's first entry; return its slot (time is ``ht[0]`` before the call)."""
    slot = w[W_HEAP_SLOT]
    n = w[W_HEAP_N] - 1
    w[W_HEAP_N] = n
    if n > 0:
        ht[0] = ht[n]
        w[W_HEAP_KEY] = w[W_HEAP_KEY + n]
        w[W_HEAP_SLOT] = w[W_HEAP_SLOT + n]
        i = 0
        while True:
            left = 2 * i + 1
            if left >= n:
                break
            child = left
            if left + 1 < n and _heap_less(ht, w, left + 1, left):
                child = left + 1
            if _heap_less(ht, w, child, i):
                _heap_swap(ht, w, child, i)
                i = child
            else:
                break
    return slot


@njit(cache=True)
def _fifo_push(w, typ, actor, slot):
    if w[W_FIFO_LEN] >= FIFO:
        w[W_ERR] = ERR_OVERFLOW
        return
    pos = (w[W_FIFO_HEAD] + w[W_FIFO_LEN]) % FIFO
    w[W_FIFO_TYPE + pos] = typ
    w[W_FIFO_ACTOR + pos] = actor
    w[W_FIFO_SLOT + pos] = slot
    w[W_FIFO_LEN] += 1


@njit(cache=True)
def _inbox_push(w, actor, slot):
    if w[W_IB_LEN + actor] >= INBOX:
        w[W_ERR] = ERR_OVERFLOW
        return
    pos = (w[W_IB_HEAD + actor] + w[W_IB_LEN + actor]) % INBOX
    w[W_IB + actor * INBOX + pos] = slot
    w[W_IB_LEN + actor] += 1


@njit(cache=True)
def _inbox_pop(w, actor):
    head = w[W_IB_HEAD + actor]
    slot = w[W_IB + actor * INBOX + head]
    w[W_IB_HEAD + actor] = (head + 1) % INBOX
    w[W_IB_LEN + actor] -= 1
    return slot


@njit(cache=True)
def _put(w, actor, slot):
    """A store put: the message joins the inbox; a PUT event is queued."""
    _inbox_push(w, actor, slot)
    _fifo_push(w, PUT, actor, slot)


@njit(cache=True, inline="always")
def _send(out, n, now, msgs, ht, w):
    """Distribute the ``n`` messages a handler wrote, in order (as the SimPy engine does)."""
    for r in range(n):
        top = w[W_FREE_TOP]
        if top == 0:
            w[W_ERR] = ERR_OVERFLOW
            return
        top -= 1
        w[W_FREE_TOP] = top
        slot = w[W_FREE + top]
        for f in range(MSG_FIELDS):
            msgs[slot, f] = out[r, O_MSG + f]
        target = int(out[r, O_TARGET])
        w[W_TARGET + slot] = target
        if out[r, O_DELAYED] > 0.0:
            pri = PRIORITY_BASE + int(out[r, O_MSG + M_KIND])
            key = (np.int64(pri) << SEQ_BITS) | w[W_SEQ]
            w[W_SEQ] += 1
            _heap_push(ht, w, now + out[r, O_DELAY], key, slot)
        else:
            _put(w, target, slot)


@njit(cache=True)
def _free(w, slot):
    w[W_FREE + w[W_FREE_TOP]] = slot
    w[W_FREE_TOP] += 1


@njit(cache=True)
def simulate_one(p_mixes, mix_cum, seed, rep, twin, st, keys, ctr, msgs, ht, w, out, info, ws):
    """Run one replication (or, with ``twin = 1``, its complete-information twin) to its end; fill ``st``.

    Returns 0, or an error code if a workspace limit was exceeded (the wrapper
    raises: a silent overflow would break identity with the SimPy engine).
    """
    mix = rules.setup(p_mixes, mix_cum, seed, rep, st, keys, ctr, twin)
    p = p_mixes[mix]
    horizon = p[rules.HORIZON]
    w[:W_FREE] = 0
    for i in range(POOL):
        w[W_FREE + i] = i
    w[W_FREE_TOP] = POOL
    for a in range(N_ACTORS):
        w[W_WAITING + a] = 1  # every process starts by waiting on its inbox
    now = 0.0
    n = rules.initial_messages(st, p, out)
    _send(out, n, now, msgs, ht, w)
    while True:
        if w[W_FIFO_LEN] > 0:
            head = w[W_FIFO_HEAD]
            typ = w[W_FIFO_TYPE + head]
            actor = w[W_FIFO_ACTOR + head]
            slot = w[W_FIFO_SLOT + head]
            w[W_FIFO_HEAD] = (head + 1) % FIFO
            w[W_FIFO_LEN] -= 1
            if typ == PUT:
                if w[W_WAITING + actor] == 1 and w[W_IB_LEN + actor] > 0:
                    w[W_WAITING + actor] = 0
                    _fifo_push(w, GET, actor, _inbox_pop(w, actor))
                continue
        else:
            if w[W_HEAP_N] == 0 or ht[0] >= horizon:
                break
            now = ht[0]
            slot = _heap_pop(ht, w)
            # The FIFO is empty, so every process waits on an empty inbox: this put wakes the target at once and
            # its get is the only event of the instant. Handling the message now is what the PUT and GET entries
            # would do, without queueing them.
            actor = w[W_TARGET + slot]
            w[W_WAITING + actor] = 0
        # a GET: the actor handles the message, then takes the next one from its inbox or waits again
        n = rules.handle(actor, msgs[slot], now, st, p, keys, ctr, ws, out, info)
        _free(w, slot)
        _send(out, n, now, msgs, ht, w)
        if w[W_ERR] != 0:
            return w[W_ERR]
        if rules.run_done(st, p):
            rules.finalize(st, p)
            return ERR_RULE if st[X_ERROR] != 0.0 else 0
        if w[W_IB_LEN + actor] > 0:
            _fifo_push(w, GET, actor, _inbox_pop(w, actor))
        else:
            w[W_WAITING + actor] = 1
    rules.finalize(st, p)
    if w[W_ERR] == 0 and st[X_ERROR] != 0.0:
        return ERR_RULE
    return w[W_ERR]


@intrinsic
def _borrow(typingctx, arr):
    """A view of ``arr`` without a reference count (its meminfo is NULL).

    Numba counts references to every array it passes to a function or slices:
    an atomic increment and decrement each time. Views of the workspace that
    are borrowed this way make those calls a test for NULL. The owner must
    outlive the view (see :func:`_keep_alive`).
    """
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, signature, args):
        ary = context.make_array(arr)(context, builder, value=args[0])
        out = context.make_array(arr)(context, builder)
        for name in ("parent", "nitems", "itemsize", "data", "shape", "strides"):
            setattr(out, name, getattr(ary, name))
        out.meminfo = cgutils.get_null_value(out.meminfo.type)
        return out._getvalue()

    return arr(arr), codegen


@njit(cache=True)
def _keep_alive(a, b, c, d, e, f, g, h, i):
    """Hold the workspace's owners until here, after the last use of their borrowed views."""
    return None


@njit(cache=True)
def _workspace():
    return (
        np.zeros(STATE_SIZE),
        np.zeros(N_STREAMS, dtype=np.uint64),
        np.zeros(N_STREAMS, dtype=np.uint64),
        np.zeros((POOL, MSG_FIELDS)),
        np.zeros(POOL),
        np.zeros(W_SIZE, dtype=np.int64),
        np.zeros((MAX_OUT, OUT_FIELDS)),
        np.zeros(INFO_FIELDS),
        np.zeros(SCRATCH_SIZE),
    )


@njit(cache=True, nogil=True)
def final_states(p_mixes, mix_cum, seed, reps, twin, states, errors):
    """Final state of each replication in ``reps`` (or of its complete-information twin; for tests and replays; serial)."""
    o_st, o_keys, o_ctr, o_msgs, o_ht, o_w, o_out, o_info, o_ws = _workspace()
    st, keys, ctr, msgs = _borrow(o_st), _borrow(o_keys), _borrow(o_ctr), _borrow(o_msgs)
    ht, w, out, info, ws = _borrow(o_ht), _borrow(o_w), _borrow(o_out), _borrow(o_info), _borrow(o_ws)
    pm = _borrow(p_mixes)
    for i in range(reps.shape[0]):
        errors[i] = simulate_one(pm, mix_cum, seed, reps[i], twin, st, keys, ctr, msgs, ht, w, out, info, ws)
        states[i, :] = st
    _keep_alive(o_st, o_keys, o_ctr, o_msgs, o_ht, o_w, o_out, o_info, o_ws)


# --- Monte Carlo blocks -------------------------------------------------------
# ``outputs`` is the bundle of outputs (escalation_sim.engines.outputs.Arrays, where each
# measure is declared); block b fills row b of every array. err[b] > 0: a replication
# overflowed the workspace or met an unknown strategy code.
@njit(cache=True, nogil=True)
def run_block(p_mixes, mix_cum, seed, block, block_size, n_total, bin_width, b, outputs, err):
    """Run the replications of ``block`` and aggregate them into row ``b`` of ``outputs``.

    Every replication that ends in war is run again as its complete-information
    twin (same streams, each side knowing the other's type): the war is by
    miscalculation if the twin has no war.
    """
    o_st, o_keys, o_ctr, o_msgs, o_ht, o_w, o_out, o_info, o_ws = _workspace()
    st, keys, ctr, msgs = _borrow(o_st), _borrow(o_keys), _borrow(o_ctr), _borrow(o_msgs)
    ht, w, out, info, ws = _borrow(o_ht), _borrow(o_w), _borrow(o_out), _borrow(o_info), _borrow(o_ws)
    pm = _borrow(p_mixes)
    counts, by_type, hist, chist = outputs.counts, outputs.by_type, outputs.hist, outputs.challenge_hist
    n_bins = hist.shape[1]
    q0 = pm[0, rules.Q0]
    first = block * block_size
    last = min(first + block_size, n_total)
    d1 = 0.0
    d2 = 0.0
    c1 = 0.0
    c2 = 0.0
    terms = 0.0
    gain = 0.0
    cost = 0.0
    paid = 0.0
    ev = 0
    dr = 0
    twins = 0
    for rep in range(first, last):
        e = simulate_one(pm, mix_cum, seed, rep, np.int64(0), st, keys, ctr, msgs, ht, w, out, info, ws)
        if e != 0:
            err[b] = e
            break
        need = int(st[X_NEED])
        outcome = int(st[X_OUTCOME])
        counts[b, need, outcome] += 1
        by_type[b, int(st[X_C_TYPE]), outcome] += 1
        if st[X_PROLIFERATED] > 0.0:
            outputs.prolif[b, need] += 1
        if st[X_PROGRAMME_STARTED] > 0.0:
            outputs.programme[b, need] += 1
        if st[X_DETECTED] >= 0.0:
            outputs.detected[b, need] += 1
        if st[X_ALLY_OPENED] > 0.0:
            outputs.ally_opened[b, need] += 1
            if outcome == WAR_OUTCOME:
                outputs.entrapment[b, need] += 1
        if st[X_C_FORCE] > 0.0:
            outputs.attacked[b, need] += 1
        if st[X_ABANDONED] > 0.0:
            outputs.abandonment[b, need] += 1
        cost += st[X_REASSURANCE_COST]
        paid += st[X_AUDIENCE_PAID]
        terms += st[X_FINAL_TERMS]
        ev += int(st[X_EVENTS])
        for s in range(N_STREAMS):
            dr += ctr[s]
        if measures.is_crisis(st):
            gain += st[X_FINAL_TERMS] - q0
            ct = st[X_CHALLENGE_TIME]
            c1 += ct
            c2 += ct * ct
            chist[b, min(int(ct / bin_width), n_bins - 1)] += 1
            d = st[X_END_TIME] - ct
            d1 += d
            d2 += d * d
            hist[b, min(int(d / bin_width), n_bins - 1)] += 1
            outputs.violence[b, need, measures.violence(st)] += 1
            outputs.hostility[b, need, measures.hostility(st)] += 1
            outputs.actor[b, need, measures.actor_outcome(st, 0)] += 1
            outputs.actor[b, need, measures.actor_outcome(st, 1)] += 1
        if outcome == WAR_OUTCOME:
            if st[X_INADVERTENT] > 0.0:
                outputs.war_inadvertent[b, need] += 1
            e = simulate_one(pm, mix_cum, seed, rep, np.int64(1), st, keys, ctr, msgs, ht, w, out, info, ws)
            if e != 0:
                err[b] = e
                break
            twins += 1
            if int(st[X_OUTCOME]) != WAR_OUTCOME:
                outputs.war_miscalculation[b, need] += 1
    outputs.dur_sum[b] = d1
    outputs.dur_sumsq[b] = d2
    outputs.challenge_sum[b] = c1
    outputs.challenge_sumsq[b] = c2
    outputs.terms_sum[b] = terms
    outputs.reassurance_cost_sum[b] = cost
    outputs.audience_paid_sum[b] = paid
    outputs.gain_sum[b] = gain
    outputs.events[b] = ev
    outputs.draws[b] = dr
    outputs.twin_runs[b] = twins
    _keep_alive(o_st, o_keys, o_ctr, o_msgs, o_ht, o_w, o_out, o_info, o_ws)


@njit(cache=True, nogil=True)
def run_blocks_serial(p_mixes, mix_cum, seed, blocks, block_size, n_total, bin_width, outputs, err):
    """Run ``blocks`` in order, block ``i`` into row ``i`` (the parallel twin, ``montecarlo._run_threaded``, runs
    chunks of them in threads)."""
    for b in range(blocks.shape[0]):
        run_block(p_mixes, mix_cum, seed, blocks[b], block_size, n_total, bin_width, b, outputs, err)
