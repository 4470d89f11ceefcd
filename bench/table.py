"""bench/table.py: turns bench/run's raw results (every round of every scenario on every server)
into the Markdown table. Pure functions of the JSON that bench/run writes, so the table can be
rebuilt from a saved run (`bench/run --report FILE.json`) and tested on canned input
(tests/integration/test_bench_smoke.py). Standard library only.

How a figure is made (bench/README.md, "Reading a result"):
- each scenario ran `rounds` times, the servers alternating (A B C D, A B C D, ...);
- a cell is the median over the rounds and the spread min–max;
- a ratio is taken per round (Ferry's figure ÷ the best peer's figure of the same round, or ÷ the
  machine limit measured in the same round) and shown as the median and min–max of those;
- PASS/FAIL is judged on the median;
- a cell whose load generator used >= GEN_BOUND of a core over the measured window (median over
  the rounds) is "generator-bound": the figure is the generator's, not the server's, so it is
  shown as a bound and no ratio or verdict is drawn from it.
"""

import statistics

GEN_BOUND = 0.90          # generator CPU ÷ window wall time at which a figure is the generator's
GIB = 1 << 30


# --------------------------------------------------------------------------- statistics

def spread(values):
    """Median and min–max of the values that are not None: {"median", "lo", "hi", "n"}, or None
    when there are none."""
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "lo": min(v), "hi": max(v), "n": len(v)}


def gen_fraction(r):
    """The load generator's CPU time over the measured window's wall time (1.0 = one core busy
    for the whole window), or None when the result does not say."""
    if not r or not r.get("ok"):
        return None
    cpu, wall = r.get("gen_cpu_s"), r.get("window_s")
    if cpu is None or not wall or wall <= 0:
        return None
    return cpu / wall


def value(r, field):
    """A result's figure: a field of the generator's JSON line or one derived from it and the
    server CPU time bench/run measured (server_cpu_s)."""
    if not r or not r.get("ok"):
        return None
    cpu = r.get("server_cpu_s")
    if field == "cpu_s_per_gib":
        b = r.get("bytes")
        return cpu / (b / GIB) if cpu is not None and b else None
    if field == "cpu_us_per_file":
        n = r.get("files")
        return cpu * 1e6 / n if cpu is not None and n else None
    if field == "cpu_us_per_entry":
        n = (r.get("listings") or 0) * (r.get("entries") or 0)
        return cpu * 1e6 / n if cpu is not None and n else None
    if field == "cpu_ms_per_login":
        n = r.get("logins")
        return cpu * 1e3 / n if cpu is not None and n else None
    return r.get(field)


def cell(per_round, field, gen_check=True):
    """Aggregates one server's results of one scenario over the rounds (a list, one result or
    None per round). Returns a dict:
      status   "ok", "skip", "fail" or "none" (no result)
      reason   the skip reason or failure message
      values   the figure per round (None where missing), aligned with the rounds
      stats    spread(values)
      gen      median generator core fraction (None if unknown or gen_check is off)
      bound    True when gen >= GEN_BOUND: the figure is the generator's
    A failure in any round fails the cell (a wrong byte is never averaged away)."""
    out = {"status": "none", "reason": None, "values": [], "stats": None, "gen": None,
           "bound": False}
    fracs = []
    for r in per_round:
        if r is None:
            out["values"].append(None)
            continue
        if r.get("skip"):
            out["values"].append(None)
            if out["status"] != "fail":
                out["status"], out["reason"] = "skip", r["skip"]
            continue
        if not r.get("ok"):
            out["values"].append(None)
            out["status"], out["reason"] = "fail", r.get("error", "?")
            continue
        out["values"].append(value(r, field))
        f = gen_fraction(r)
        if f is not None:
            fracs.append(f)
    if out["status"] in ("skip", "fail"):
        return out
    out["stats"] = spread(out["values"])
    if out["stats"] is not None:
        out["status"] = "ok"
    if gen_check and fracs:
        out["gen"] = statistics.median(fracs)
        out["bound"] = out["gen"] >= GEN_BOUND
    return out


def per_round_ratios(num, den):
    """num[i] ÷ den[i] for the rounds where both are known (two lists aligned by round)."""
    return [a / b if a is not None and b else None for a, b in zip(num, den)]


def best_per_round(cells, higher):
    """The best value among the given cells in each round (highest rate, or lowest time, memory
    or CPU), or None for a round where none has one."""
    rounds = max((len(c["values"]) for c in cells), default=0)
    best = []
    for i in range(rounds):
        v = [c["values"][i] for c in cells if c["status"] == "ok" and i < len(c["values"])
             and c["values"][i] is not None]
        best.append((max(v) if higher else min(v)) if v else None)
    return best


def verdict(kind, x, higher, ferry_median, ratio_ref, ratio_lim):
    """PASS, FAIL or "–" (not measurable) for one target, on medians.
    kind: "limit" (Ferry ÷ limit >= x), "ref" (Ferry ÷ best peer >= x for rates, <= x for
    times, memory and CPU), "abs_le" (Ferry's figure <= x)."""
    if kind == "limit":
        m = ratio_lim["median"] if ratio_lim else None
        return "–" if m is None else ("PASS" if m >= x else "FAIL")
    if kind == "ref":
        m = ratio_ref["median"] if ratio_ref else None
        if m is None:
            return "–"
        return "PASS" if (m >= x if higher else m <= x) else "FAIL"
    if kind == "abs_le":
        return "–" if ferry_median is None else ("PASS" if ferry_median <= x else "FAIL")
    raise ValueError(kind)


def target_text(kind, x, higher, lname):
    if kind == "limit":
        return f"≥ {x} × {lname}"
    if kind == "ref":
        return f"{'≥' if higher else '≤'} {x} × best peer"
    return f"≤ {x:,}"


def evaluate_row(row, names, rounds):
    """One table row from the raw rounds. row: dict with label, key, field, higher, and
    optionally keys (server -> key overriding key), limit (a function round -> limit value or
    None), lname, targets [(kind, x)], gen_check. Returns the cells, ratios and verdicts."""
    cells = {}
    for n in names:
        k = row.get("keys", {}).get(n, row["key"])
        per_round = [rd["results"].get(n, {}).get(k) if k else None for rd in rounds]
        if k is None or all(r is None for r in per_round):
            reason = row.get("missing", {}).get(n)
            per_round = [{"ok": False, "skip": reason}] if reason else per_round
        cells[n] = cell(per_round, row["field"], row.get("gen_check", True))
    ferry = cells.get("ferryd")
    peers = [cells[n] for n in names if n != "ferryd"]
    higher = row["higher"]
    ratio_ref = ratio_lim = None
    if ferry and ferry["status"] == "ok":
        best = best_per_round(peers, higher)
        ratio_ref = spread(per_round_ratios(ferry["values"], best))
        if row.get("limit"):
            lims = [row["limit"](rd) for rd in rounds]
            ratio_lim = spread(per_round_ratios(ferry["values"], lims))
    lim_stats = spread([row["limit"](rd) for rd in rounds]) if row.get("limit") else None
    bound_ferry = bool(ferry and ferry["bound"])
    bound_peer = any(c["bound"] for c in peers)
    verdicts = []
    fm = ferry["stats"]["median"] if ferry and ferry["stats"] else None
    for kind, x in row.get("targets", []):
        if ferry is None or ferry["status"] == "skip":
            v = "–"
        elif ferry["status"] != "ok":
            v = "FAIL"
        elif bound_ferry or (kind == "ref" and bound_peer):
            v = "gen-bound"
        else:
            v = verdict(kind, x, higher, fm, ratio_ref, ratio_lim)
        verdicts.append(v)
    gens = [c["gen"] for c in cells.values() if c["gen"] is not None]
    noise = [(c["stats"]["hi"] - c["stats"]["lo"]) / abs(c["stats"]["median"])
             for c in cells.values() if c["status"] == "ok" and c["stats"]["n"] > 1
             and c["stats"]["median"]]
    return {"cells": cells, "ratio_ref": ratio_ref, "ratio_lim": ratio_lim, "limit": lim_stats,
            "verdicts": verdicts, "gen_max": max(gens) if gens else None,
            "noise": max(noise) if noise else None}


# --------------------------------------------------------------------------- rows

def limit_of(name, field):
    """A function round -> that round's machine limit (None when the probe failed)."""
    def f(rd):
        lim = rd.get("limits", {}).get(name) or {}
        return lim.get(field) if lim.get("ok") else None
    return f


def ferry_figure(key, field):
    """A function round -> ferryd's figure of that scenario in that round (None when it failed
    or is missing)."""
    def f(rd):
        r = rd["results"].get("ferryd", {}).get(key) or {}
        return r.get(field) if r.get("ok") else None
    return f


ferry_logins_rate = ferry_figure("logins", "rate")


def postgres_rows(data):
    """ferryd with [store] postgres beside the SQLite rows: the same logins scenario, run on a
    second ferryd each round (result key logins_pg, ferryd only). Its "limit" is the SQLite
    ferryd's figure of the same round, so the Ferry ÷ limit column is PostgreSQL ÷ SQLite. No
    target. Only in runs that say whether PostgreSQL ran (data["postgres"]): an older saved run
    gets no such rows."""
    if "postgres" not in data:
        return []
    return [{"label": "Logins/s, 32 clients, PostgreSQL store", "key": None,
             "keys": {"ferryd": "logins_pg"}, "field": "rate", "higher": True,
             "limit": ferry_figure("logins", "rate"), "lname": "SQLite", "targets": []},
            {"label": "Login p99 (ms), PostgreSQL store", "key": None,
             "keys": {"ferryd": "logins_pg"}, "field": "p99_ms", "higher": False,
             "limit": ferry_figure("logins", "p99_ms"), "lname": "SQLite", "targets": []}]


def fsync_rows(data, streams, big_label):
    """The disk-backed STOR rows: ferryd with [transfer] fsync = on and = off. The peers never
    fsync; their figure is the same measurement in both rows."""
    fs = data.get("fsync") or {}
    rows = []
    for mode in ("on", "off"):
        base = f"stor_disk_{streams}"
        if fs.get("supported"):
            fkey = base if fs.get("main") == mode else f"{base}_fsync_{mode}"
            missing = None
        elif fs.get("main") == mode:
            fkey, missing = base, None     # no setting, and ferryd's behaviour is known
        else:
            fkey, missing = None, fs.get("skip") or "ferryd lacks [transfer] fsync"
        row = {"label": f"STOR {big_label} ×{streams}, disk, ferryd fsync {mode} (MiB/s)",
               "key": base, "keys": {"ferryd": fkey}, "field": "mib_s", "higher": True,
               "limit": limit_of("tcp", "mib_s"), "lname": "TCP", "targets": []}
        if missing:
            row["missing"] = {"ferryd": missing}
        rows.append(row)
        rows.append(cpu_row(row, "cpu_s_per_gib", "server CPU (s/GiB)", []))
    return rows


def file_limit_row(kind, big_label):
    """RETR/STOR ×1 (memory) again, over the TCP limit with a file at the server's end
    (tcp-limit-file: sendfile from the page cache; tcp-limit-tofile: splice into the tmpfs).
    No target: it shows how much of the gap to the plain TCP limit the file end explains."""
    name, what = (("tcp_file", "TCP, file via sendfile") if kind == "retr"
                  else ("tcp_tofile", "TCP, spliced into a tmpfs file"))
    probe = "tcp-limit (file via sendfile)" if kind == "retr" else "tcp-limit (into a tmpfs file)"
    return {"label": f"{kind.upper()} {big_label} ×1, memory, vs {probe} (MiB/s)",
            "key": f"{kind}_mem_1", "field": "mib_s", "higher": True,
            "limit": limit_of(name, "mib_s"), "lname": what, "targets": []}


def cpu_row(base, field, what, targets):
    return {"label": f"↳ {what}", "key": base["key"], "keys": base.get("keys", {}),
            "missing": base.get("missing", {}), "field": field, "higher": False,
            "targets": targets, "gen_check": False}


def rows_for(data):
    """Every row of the table, in order, for this run's sizes."""
    cfg = data["config"]
    big = cfg["big"]
    big_label = "1 GiB" if big == GIB else f"{big >> 20} MiB"
    d_small, d_large = cfg["dirs"][0], cfg["dirs"][-1]
    i_small, i_large = cfg["idle"][0], cfg["idle"][-1]
    yes = limit_of("hash", "limit_per_s")
    R = [
        {"label": "Logins/s, 32 clients", "key": "logins", "field": "rate", "higher": True,
         "limit": yes, "lname": "yescrypt", "targets": [("limit", 0.9)]},
        {"label": "Login p99 latency (ms)", "key": "logins", "field": "p99_ms", "higher": False,
         "targets": [("abs_le", 250)]},
    ]
    R += postgres_rows(data)
    R += [
        {"label": "TLS logins/s, 32 clients", "key": "logins_tls", "field": "rate", "higher": True,
         "limit": yes, "lname": "yescrypt", "targets": []},
        {"label": "TLS login p99 (ms)", "key": "logins_tls", "field": "p99_ms", "higher": False,
         "targets": []},
        {"label": f"Memory per idle session, {i_small:,} (KiB)", "key": f"idle_{i_small}",
         "field": "kib_per_session", "higher": False, "targets": [("abs_le", 2)],
         "gen_check": False},
    ]
    if i_large != i_small:
        R.append({"label": f"Memory per idle session, {i_large:,} (KiB)", "key": f"idle_{i_large}",
                  "field": "kib_per_session", "higher": False, "targets": [("abs_le", 2)],
                  "gen_check": False})
    R += [
        {"label": f"{i_large:,} sessions opened/s", "key": f"idle_{i_large}", "field": "open_rate",
         "higher": True, "limit": ferry_logins_rate, "lname": "logins/s",
         "targets": [("limit", 0.9)], "gen_check": False},
        {"label": f"Memory per idle TLS session, {cfg['idle_tls']:,} (KiB)",
         "key": f"idle_tls_{cfg['idle_tls']}", "field": "kib_per_session", "higher": False,
         "targets": [("abs_le", 24)], "gen_check": False},
    ]
    files = {"label": "4 KiB files/s, one session", "key": "files", "field": "rate",
             "higher": True, "targets": [("ref", 2.0)]}
    R += [files, cpu_row(files, "cpu_us_per_file", "server CPU (µs/file)", [])]
    for n in cfg["dirs"]:
        for kind in ("list", "mlsd"):
            row = {"label": f"{kind.upper()} {n:,} entries (ms)", "key": f"{kind}_{n}",
                   "field": f"{kind}_ms", "higher": False,
                   "targets": [("ref", 0.5)] if n == d_small else []}
            R += [row, cpu_row(row, "cpu_us_per_entry", "server CPU (µs/entry)", [])]
    for kind in ("list", "mlsd"):
        R.append({"label": f"Peak memory growth, {kind.upper()} {d_large:,} (KiB)",
                  "key": f"{kind}_{d_large}", "field": "spike_kib", "higher": False,
                  "targets": [("abs_le", 2048)], "gen_check": False})
    tcp, tls = limit_of("tcp", "mib_s"), limit_of("tls", "mib_s")
    has_file_limits = any("tcp_file" in rd.get("limits", {}) for rd in data.get("rounds", []))
    for kind in ("retr", "stor"):
        for s in (1, 4):
            row = {"label": f"{kind.upper()} {big_label} ×{s}, memory (MiB/s)",
                   "key": f"{kind}_mem_{s}", "field": "mib_s", "higher": True, "limit": tcp,
                   "lname": "TCP",
                   "targets": ([("limit", 0.9)] if s == 1 else []) + [("ref", 1.1)]}
            R += [row, cpu_row(row, "cpu_s_per_gib", "server CPU (s/GiB)", [("ref", 1.0)])]
            if s == 1 and has_file_limits:
                R.append(file_limit_row(kind, big_label))
    for s in (1, 4):
        R += fsync_rows(data, s, big_label)
    for kind in ("retr", "stor"):
        for s in (1, 4):
            row = {"label": f"FTPS {kind.upper()} {big_label} ×{s}, memory (MiB/s)",
                   "key": f"tls_{kind}_mem_{s}", "field": "mib_s", "higher": True, "limit": tls,
                   "lname": "TLS", "targets": [("limit", 0.9), ("ref", 1.1)] if s == 1 else []}
            R += [row, cpu_row(row, "cpu_s_per_gib", "server CPU (s/GiB)", [])]
    return R


# --------------------------------------------------------------------------- rendering

def fmt(v, digits=1):
    if v is None:
        return "–"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.{digits}f}"
    return f"{v:.2f}"


def fmt_spread(s, digits=1):
    """"median (min–max)", or just the median for one round."""
    if s is None:
        return "–"
    if s["n"] < 2:
        return fmt(s["median"], digits)
    return f"{fmt(s['median'], digits)} ({fmt(s['lo'], digits)}–{fmt(s['hi'], digits)})"


def cell_text(c, higher):
    if c["status"] == "skip":
        return "skipped¹"
    if c["status"] == "fail":
        return "FAIL²"
    if c["status"] != "ok":
        return "–"
    if c["bound"]:
        return f"gen-bound³ ({'≥' if higher else '≤'} {fmt(c['stats']['median'])})"
    return fmt_spread(c["stats"])


def pct(x):
    return "–" if x is None else f"{x * 100:.0f}%"


def render(data):
    """The Markdown report of one bench/run (its JSON, see bench/run)."""
    cfg, names, rounds = data["config"], data["names"], data["rounds"]
    out = []
    quick = data.get("quick")
    out.append(f"# Ferry benchmark — {data.get('started', '?')} UTC"
               + (" (quick mode)" if quick else ""))
    out.append("")
    m = data.get("machine", {})
    out.append(f"Machine: {m.get('cores', '?')} cores ({m.get('cpu', '')}), Linux "
               f"{m.get('kernel', '?')}. Run time {data.get('elapsed', 0):.0f} s. Load average "
               f"(1 min) at the start {cfg['load'][0]}, at the end {cfg['load'][1]}: with more "
               f"than {m.get('cores', '?')}, other work shared the CPU and every figure is "
               f"provisional.")
    out.append("")
    if not names:                          # bench/run --only sftp
        out += render_sftp(data)
        out += ["Notes:", ""] + [f"- {note}" for note in data.get("notes", [])]
        out.append("- Reproduce: `bench/run --only sftp`; see bench/README.md, \"SFTP\". "
                   "`bench/run --report FILE.json` rebuilds this table from the JSON beside it.")
        return "\n".join(out) + "\n"
    out.append(f"**{len(rounds)} rounds**, servers alternating within each round "
               f"({' → '.join(names)}, then again), one server at a time. Each cell is the "
               f"**median over the rounds (min–max)**; each ratio is taken per round (Ferry ÷ "
               f"the best peer of the same round, or ÷ the limit measured in the same round) and "
               f"shown as median (min–max). PASS/FAIL is judged on the median. See "
               f"bench/README.md, \"Reading a result\".")
    out.append("")
    tcp = spread([limit_of("tcp", "mib_s")(rd) for rd in rounds])
    tls = spread([limit_of("tls", "mib_s")(rd) for rd in rounds])
    tcp_file = spread([limit_of("tcp_file", "mib_s")(rd) for rd in rounds])
    tcp_tofile = spread([limit_of("tcp_tofile", "mib_s")(rd) for rd in rounds])
    hashl = spread([limit_of("hash", "limit_per_s")(rd) for rd in rounds])
    ms_hash = spread([limit_of("hash", "ms_per_hash")(rd) for rd in rounds])
    # Runs from before the probe hashed on every core at once have no cores_x_one_per_s.
    ideal = spread([limit_of("hash", "cores_x_one_per_s")(rd) for rd in rounds])
    out.append("Machine limits (every round): "
               f"loopback TCP **{fmt_spread(tcp)} MiB/s** ({probe_text(rounds, 'tcp')}); "
               + (f"TCP with the file: sent with sendfile from the page cache **"
                  f"{fmt_spread(tcp_file)} MiB/s** ({probe_text(rounds, 'tcp_file')}), "
                  f"spliced into a tmpfs file **{fmt_spread(tcp_tofile) if tcp_tofile else '–'} "
                  f"MiB/s** ({probe_text(rounds, 'tcp_tofile')}); " if tcp_file else "")
               + f"TLS "
               f"**{fmt_spread(tls)} MiB/s** ({data.get('cipher', '?')}; "
               f"{probe_text(rounds, 'tls')}); yescrypt **{fmt_spread(ms_hash)} ms/hash** → "
               f"**{fmt_spread(hashl)} logins/s** "
               + (f"with all {m.get('cores', '?')} cores hashing at once (cores ÷ hash time would say "
                  f"{fmt_spread(ideal)})." if ideal else f"on {m.get('cores', '?')} cores."))
    out.append("")
    head = (["Scenario"] + names + ["Gen CPU", "Noise", "Ferry ÷ best peer", "Limit",
                                    "Ferry ÷ limit", "Target", "Result"])
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 3) + ["---", ":---:"]) + "|")
    summary = []
    parent = ""
    for row in rows_for(data):
        ev = evaluate_row(row, names, rounds)
        if row["label"].startswith("↳"):
            name = f"{parent.rsplit(' (', 1)[0]}, {row['label'][2:]}"
        else:
            name = parent = row["label"]
        texts = [cell_text(ev["cells"][n], row["higher"]) for n in names]
        gen = ev["gen_max"]
        gen_t = "–" if gen is None else (f"**{pct(gen)}**" if gen >= GEN_BOUND else pct(gen))
        noise_t = "–" if ev["noise"] is None else f"±{ev['noise'] * 50:.0f}%"
        lim_t = (f"{fmt_spread(ev['limit'])} ({row['lname']})" if ev["limit"] else "–")
        tgts = [target_text(k, x, row["higher"], row.get("lname")) for k, x in
                row.get("targets", [])]
        for t, v in zip(tgts, ev["verdicts"]):
            summary.append((f"{name}: {t}", v))
        out.append("| " + " | ".join([row["label"]] + texts + [
            gen_t, noise_t, fmt_spread(ev["ratio_ref"], 2), lim_t,
            fmt_spread(ev["ratio_lim"], 2), "; ".join(tgts), ", ".join(ev["verdicts"])]) + " |")
    out.append("")
    passed = sum(1 for _, v in summary if v == "PASS")
    out.append(f"Targets met: **{passed} of {len(summary)}** (judged on the medians)."
               + (" Not met: " + "; ".join(f"{l} ({v})" for l, v in summary if v != "PASS") + "."
                  if passed < len(summary) else ""))
    out.append("")
    out.append("Columns: a server's cell is its median over the rounds (min–max). **Gen CPU**: "
               "the load generator's CPU time ÷ the measured window's wall time, the highest "
               f"median among the servers (100% = one core); at ≥ {GEN_BOUND:.0%} a cell is "
               "*generator-bound*³. **Noise**: the widest spread in the row, ±½(max − min) ÷ "
               "median. **Ferry ÷ best peer**: per round, Ferry's figure ÷ the best of vsftpd, "
               "ProFTPD and Pure-FTPd in that round (highest rate; lowest time, memory or CPU). "
               "**Ferry ÷ limit**: per round, ÷ the machine limit measured in that round. "
               "**memory** rows: RETR from the page cache (the file is read once before each "
               "run) into a reader that checks and discards; STOR from memory into a tmpfs. "
               "**disk** rows: STOR into the served folder on the real disk. **server CPU**: the "
               "server's process tree's user+system time over the measured window, per GiB "
               "moved, per file or per listed entry (bench/README.md says how it is read). "
               "Memory: sum of PSS over the server's process tree with the sessions idle, minus "
               "the same sum before, divided by the number of sessions. Peak memory growth: the "
               "larger of (highest PSS sampled every 20 ms during the listings − PSS before) and "
               "the growth of the main process's peak RSS (VmHWM, reset before the listings)."
               + (" **PostgreSQL store** rows: the plain logins scenario against a second ferryd "
                  "with `[store] postgres` in the same round; their **Limit** is the SQLite "
                  "ferryd's figure of that round, so **Ferry ÷ limit** is PostgreSQL ÷ SQLite."
                  if postgres_rows(data) else ""))
    out.append("")
    out.append("¹ Skipped / ² failed / ³ generator-bound:")
    out.append("")
    seen = set()
    for i, rd in enumerate(rounds):
        for n in names:
            for key, r in sorted(rd["results"].get(n, {}).items()):
                if not isinstance(r, dict):
                    continue
                if r.get("skip") and (n, key) not in seen:
                    seen.add((n, key))
                    out.append(f"- {n} `{key}`: skipped: {r['skip']}")
                elif not r.get("skip") and not r.get("ok") and r.get("error"):
                    out.append(f"- {n} `{key}` (round {i + 1}): FAILED: {r['error']}")
            err = rd["results"].get(n, {}).get("_error")
            if err:
                out.append(f"- {n} (round {i + 1}): {err}")
    fs = data.get("fsync") or {}
    if not fs.get("supported") and fs.get("skip"):
        out.append(f"- ferryd fsync rows: {fs['skip']}")
    for row in rows_for(data):
        ev = evaluate_row(row, names, rounds)
        for n in names:
            c = ev["cells"][n]
            if c["bound"]:
                out.append(f"- {n}, {row['label']}: generator-bound (the load generator used "
                           f"{pct(c['gen'])} of a core): the server may be faster; no ratio or "
                           f"verdict is drawn from it.")
    out.append("")
    out += render_sftp(data)
    out.append("Notes:")
    out.append("")
    for note in data.get("notes", []):
        out.append(f"- {note}")
    out.append(f"- Sizes: {cfg['small_files']} files of 4 KiB; directories of "
               f"{', '.join(f'{d:,}' for d in cfg['dirs'])} entries; transfers of "
               f"{cfg['big'] >> 20} MiB per stream; idle sessions "
               f"{', '.join(f'{i:,}' for i in cfg['idle'])} (TLS {cfg['idle_tls']:,}); "
               f"{cfg['seconds']} s per timed scenario; limits probed with "
               f"{cfg['limit'] >> 20} MiB.")
    out.append("- Reproduce: `bench/run` (full) or `bench/run --quick`; see bench/README.md. The "
               "raw results of every round are in the JSON file beside this one; "
               "`bench/run --report FILE.json` rebuilds this table from it.")
    return "\n".join(out) + "\n"


def probe_cpu(rd, name, side):
    """A limit probe's sender or receiver CPU share of a core (side "send" or "recv"): which
    side limits it."""
    lim = rd.get("limits", {}).get(name) or {}
    if not lim.get("ok") or not lim.get("seconds") or lim.get(f"{side}_cpu_s") is None:
        return None
    return lim[f"{side}_cpu_s"] / lim["seconds"]


def probe_text(rounds, name):
    tx = spread([probe_cpu(rd, name, "send") for rd in rounds])
    rx = spread([probe_cpu(rd, name, "recv") for rd in rounds])
    return (f"CPU of a core: sender {pct(tx['median']) if tx else '–'}, receiver "
            f"{pct(rx['median']) if rx else '–'}")


# --------------------------------------------------------------------------- SFTP (issue 17)

def sftp_rounds(data):
    """The rounds as evaluate_row reads them, with the SFTP results (rd["sftp"]) as results."""
    return [{"results": rd.get("sftp") or {}, "limits": {}} for rd in data["rounds"]]


def sftp_rows(data):
    """The SFTP table: ferryd's SFTP front-end beside OpenSSH's sshd + internal-sftp. Targets
    (issue 17): throughput >= sshd's (files/s, download, upload); memory per idle session
    <= 1/10 of sshd's. Logins/s and p99 are reported without a target."""
    cfg = data["config"]
    big = cfg["sftp_big"]
    big_label = "1 GiB" if big == GIB else f"{big >> 20} MiB"
    logins = {"label": f"SFTP logins/s, {cfg['sftp_clients']} clients", "key": "logins",
              "field": "rate", "higher": True, "targets": []}
    R = [logins, cpu_row(logins, "cpu_ms_per_login", "server CPU (ms/login)", []),
         {"label": "SFTP login p99 latency (ms)", "key": "logins", "field": "p99_ms",
          "higher": False, "targets": []}]
    for n in cfg["sftp_idle"]:
        R.append({"label": f"Memory per idle SFTP session, {n:,} (KiB)", "key": f"idle_{n}",
                  "field": "kib_per_session", "higher": False, "targets": [("ref", 0.1)],
                  "gen_check": False})
    n = cfg["sftp_idle"][-1]
    R.append({"label": f"{n:,} SFTP sessions opened/s", "key": f"idle_{n}", "field": "open_rate",
              "higher": True, "targets": [], "gen_check": False})
    files = {"label": "4 KiB files/s, one SFTP session", "key": "files", "field": "rate",
             "higher": True, "targets": [("ref", 1.0)]}
    R += [files, cpu_row(files, "cpu_us_per_file", "server CPU (µs/file)", [])]
    for kind, what in (("retr", "download"), ("stor", "upload")):
        row = {"label": f"SFTP {what} {big_label} ×1, memory (MiB/s)", "key": f"{kind}_1",
               "field": "mib_s", "higher": True, "targets": [("ref", 1.0)]}
        R += [row, cpu_row(row, "cpu_s_per_gib", "server CPU (s/GiB)", [])]
    return R


def render_sftp(data):
    """The SFTP section of the report (Markdown lines), or [] for a run without SFTP rows."""
    sf = data.get("sftp")
    if not sf:
        return []
    out = ["## SFTP: ferryd beside OpenSSH's sshd + internal-sftp", ""]
    if sf.get("skip"):
        return out + [f"Not run: {sf['skip']}", ""]
    names, rounds = sf["names"], sftp_rounds(data)
    out.append(f"Same user and yescrypt hash, same client ({sf.get('client', '?')}, `sftp -b -` "
               f"with its defaults: reads and writes as large as the server's limits@openssh.com "
               f"allows, 255 KiB on both, up to 64 in flight), same algorithms on both "
               f"servers: cipher **{sf.get('cipher')}**, key exchange {sf.get('kex')}, host key "
               f"{sf.get('hostkey')}, password authentication. sshd: {sf.get('sshd', '?')}, "
               f"a private instance ({sf.get('chroot', '')}, UsePAM no). Servers alternate "
               f"within each round ({' → '.join(names)}). Cells: median (min–max) over "
               f"{len(rounds)} rounds; ratios per round.")
    out.append("")
    head = ["Scenario"] + names + ["Gen CPU", "Noise", "Ferry ÷ sshd", "Target", "Result"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 3) + ["---", ":---:"]) + "|")
    summary, parent, bound = [], "", []
    for row in sftp_rows(data):
        ev = evaluate_row(row, names, rounds)
        name = (f"{parent.rsplit(' (', 1)[0]}, {row['label'][2:]}" if row["label"].startswith("↳")
                else row["label"])
        parent = parent if row["label"].startswith("↳") else row["label"]
        texts = [cell_text(ev["cells"][n], row["higher"]) for n in names]
        gen = ev["gen_max"]
        gen_t = "–" if gen is None else (f"**{pct(gen)}**" if gen >= GEN_BOUND else pct(gen))
        noise_t = "–" if ev["noise"] is None else f"±{ev['noise'] * 50:.0f}%"
        tgts = [target_text(k, x, row["higher"], None).replace("best peer", "sshd")
                for k, x in row.get("targets", [])]
        for t, v in zip(tgts, ev["verdicts"]):
            summary.append((f"{name}: {t}", v))
        out.append("| " + " | ".join([row["label"]] + texts + [
            gen_t, noise_t, fmt_spread(ev["ratio_ref"], 2), "; ".join(tgts),
            ", ".join(ev["verdicts"])]) + " |")
        bound += [f"- {n}, {row['label']}: generator-bound (the client used "
                  f"{pct(ev['cells'][n]['gen'])} of a core)" for n in names
                  if ev["cells"][n]["bound"]]
    out.append("")
    passed = sum(1 for _, v in summary if v == "PASS")
    out.append(f"SFTP targets met: **{passed} of {len(summary)}** (judged on the medians)."
               + (" Not met: " + "; ".join(f"{l} ({v})" for l, v in summary if v != "PASS") + "."
                  if passed < len(summary) else ""))
    out.append("")
    out.append("**Gen CPU**: the client's CPU ÷ the window (100% = one core). For the transfer "
               "and files rows it is the busiest client process (sftp or the ssh under it, one "
               "thread each): at ≥ 90% the client limits the figure (generator-bound³). For "
               "logins it is all client processes together (32 loops of sftp + ssh + askpass), "
               "which share the 2 cores with the server. **Memory**: sum of PSS over the "
               "server's process tree (sshd: the listener and every per-connection process) "
               "with the sessions idle, minus the same sum before, ÷ sessions. **memory** rows: "
               "the download is served from the page cache into a file on the tmpfs, the upload "
               "read from the page cache into the tmpfs; every byte is checked afterwards "
               "(`ferry-bench verify`).")
    out.append("")
    notes = []
    for i, rd in enumerate(rounds):
        for n in names:
            res = rd["results"].get(n, {})
            for key, r in sorted(res.items()):
                if isinstance(r, dict) and r.get("skip"):
                    notes.append(f"- {n} `{key}`: skipped: {r['skip']}")
                elif isinstance(r, dict) and not r.get("ok") and r.get("error"):
                    notes.append(f"- {n} `{key}` (round {i + 1}): FAILED: {r['error']}")
            if res.get("_error"):
                notes.append(f"- {n} (round {i + 1}): {res['_error']}")
    notes = list(dict.fromkeys(notes)) + bound
    if notes:
        out += ["¹ Skipped / ² failed / ³ generator-bound (SFTP):", ""] + notes + [""]
    out.append(f"- SFTP sizes: {big_label_of(data)} per transfer; {data['config']['sftp_files']:,} "
               f"gets of 4 KiB files (cycling through {data['config']['small_files']:,}); idle "
               f"sessions {', '.join(f'{i:,}' for i in data['config']['sftp_idle'])}; logins "
               f"for {data['config']['sftp_seconds']} s.")
    out.append("")
    return out


def big_label_of(data):
    big = data["config"]["sftp_big"]
    return "1 GiB" if big == GIB else f"{big >> 20} MiB"
