// The pages' behaviour: fetch the API, draw equity curves with uPlot (vendored), refresh.
"use strict";

const arena = (() => {
  const palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2",
                   "#be185d", "#4d7c0f", "#7c3aed", "#b45309"];

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    return td;
  }

  function fill(tbody, rows) {
    tbody.replaceChildren(...rows.map((values) => {
      const tr = document.createElement("tr");
      tr.append(...values.map(cell));
      return tr;
    }));
  }

  function number(value, digits = 2) {
    if (value === null || value === undefined || value === "") return "";
    const n = Number(value);
    return Number.isFinite(n) ? n.toFixed(digits) : "";
  }

  // uPlot wants one x array and one y array per series, aligned.
  function aligned(curves) {
    const names = Object.keys(curves);
    const stamps = new Set();
    for (const name of names) for (const [t] of curves[name]) stamps.add(t);
    const xs = [...stamps].sort();
    const index = new Map(xs.map((t, i) => [t, i]));
    const ys = names.map((name) => {
      const y = new Array(xs.length).fill(null);
      for (const [t, v] of curves[name]) y[index.get(t)] = v;
      return y;
    });
    return { names, data: [xs.map((t) => Date.parse(t) / 1000), ...ys] };
  }

  function draw(element, curves, previous) {
    const { names, data } = aligned(curves);
    if (previous) previous.destroy();
    element.replaceChildren();
    if (data[0].length === 0) {
      element.textContent = "No equity data yet.";
      return null;
    }
    const options = {
      width: Math.max(320, element.clientWidth || 900),
      height: 320,
      series: [{}, ...names.map((name, i) => ({
        label: name, stroke: palette[i % palette.length], width: 2, spanGaps: true,
      }))],
      axes: [{}, { size: 80 }],
    };
    const chart = new uPlot(options, data, element);
    element.dataset.drawn = String(names.length);
    return chart;
  }

  async function getJSON(url, key) {
    const answer = await fetch(url, { headers: key ? { "X-API-Key": key } : {} });
    if (!answer.ok) throw new Error(`${answer.status}: ${(await answer.json()).detail}`);
    return answer.json();
  }

  function leaderboard(refreshMs) {
    let chart = null;
    async function refresh() {
      try {
        const [board, curves] = await Promise.all([
          getJSON("/api/v1/leaderboard"), getJSON("/api/v1/curves?interval=15min"),
        ]);
        fill(document.querySelector("#board tbody"), board.teams.map((r) => [
          r.rank ?? "", r.name, number(r.return_pct, 3), number(r.equity),
          number(r.sharpe), number(r.max_drawdown_pct), r.trades, r.status,
        ]));
        chart = draw(document.getElementById("chart"), curves.curves, chart);
        document.getElementById("updated").textContent =
          `Updated ${new Date().toLocaleTimeString()}.`;
      } catch (error) {
        document.getElementById("updated").textContent = `Update failed: ${error.message}`;
      }
    }
    refresh();
    setInterval(refresh, refreshMs);
  }

  // The team a key opens: its own, or for the organiser's key the one picked (the first).
  function pickTeam(me, wanted) {
    const picker = document.getElementById("team-picker");
    document.getElementById("picker").hidden = !me.organiser;
    if (!me.organiser) return me.team_id;
    if (me.teams.length === 0) throw new Error("no team is registered yet");
    const ids = me.teams.map((t) => t.team_id);
    if ([...picker.options].map((o) => o.value).join() !== ids.join()) {
      picker.replaceChildren(...me.teams.map((t) => new Option(`${t.name} (${t.team_id})`,
                                                                t.team_id)));
    }
    picker.value = ids.includes(wanted) ? wanted : ids[0];
    return picker.value;
  }

  // A rate-limited upload, in words: when the next one is possible (Retry-After, seconds);
  // the button waits until then.
  function tooMany(answer, reply, button) {
    const wait = Number(answer.headers.get("Retry-After")) || Number(reply.retry_after) || 60;
    const at = new Date(Date.now() + wait * 1000).toLocaleTimeString();
    if (button) {
      button.disabled = true;
      setTimeout(() => { button.disabled = false; }, wait * 1000);
    }
    const problems = (reply.detail && reply.detail.problems) || [];
    const limit = problems.length ? ` (${problems[0].split(";")[0]})` : "";
    return `Not uploaded: too many uploads${limit.replace("too many uploads: ", "")}. ` +
      `The next upload is possible in ${wait} s, at ${at}.`;
  }

  // What the smoke call's signals would meet in the engine: a rule's refusal (cash, holdings).
  function smokeWarnings(reply) {
    const warnings = (reply.report && reply.report.smoke && reply.report.smoke.warnings) || [];
    return warnings.length ? ` Warnings from the smoke call: ${warnings.join("; ")}` : "";
  }

  // Why a team is not trading: its newest fault (a version refused at the swap included).
  function faultText(status) {
    const fault = status.last_fault;
    return fault ? `${fault.kind}: ${fault.message}` : "";
  }

  // Said once the engine has acted on an upload: live (and trading), or the fault.
  function uploadState(awaited, status) {
    const fault = status.last_fault;
    const newFault = fault !== null && JSON.stringify(fault) !== awaited.fault;
    const refused = newFault && fault.kind === "version_rejected";
    if (status.strategy_version === awaited.version && status.health !== "disabled" && !refused) {
      return `Version ${awaited.version} is live.`;
    }
    if (refused || (newFault && status.health === "disabled")) {
      return `Version ${awaited.version} is not live: ${faultText(status)}`;
    }
    return null;
  }

  function teamPage() {
    let chart = null;
    let current = null;  // {key, team, base}
    let awaited = null;  // an uploaded version not yet live: {version, fault at the upload}
    let shown = null;  // the status last shown
    const form = document.getElementById("login");
    const keyInput = document.getElementById("key");
    async function open(key, wanted) {
      const me = await getJSON("/api/v1/me", key);
      const team = pickTeam(me, wanted);
      const base = `/api/v1/team/${encodeURIComponent(team)}`;
      current = { key, team, base };
      const [status, history, trades, events, versions] = await Promise.all([
        getJSON(base, key), getJSON(`${base}/history?interval=5min`, key),
        getJSON(`${base}/trades?size=20`, key), getJSON(`${base}/events?size=20`, key),
        getJSON(`${base}/strategy`, key),
      ]);
      const running = versions.versions.findIndex((v) => v.version === status.strategy_version);
      const state = status.health === "disabled" ? `disabled: ${faultText(status)}` : "live";
      fill(document.querySelector("#versions tbody"), versions.versions.map((v, i) => [
        v.version, v.source === "registry" ? "the registry's (at start)" : v.uploaded_at,
        v.entry_point, (v.files || []).join(", "),
        i === running ? state : "",
      ]));
      const said = awaited && uploadState(awaited, status);
      if (said) {
        document.getElementById("upload-result").textContent = said;
        if (said.endsWith("is live.")) awaited = null;
      }
      shown = status;
      document.getElementById("team-name").textContent = status.name;
      document.getElementById("team-summary").textContent =
        `Rank ${status.rank ?? "-"} of ${status.teams} · equity ${number(status.equity)} · ` +
        `cash ${number(status.cash)} · version ${status.strategy_version ?? "-"} · ` +
        status.health + (status.health === "disabled" ? ` (${faultText(status)})` : "");
      fill(document.querySelector("#positions tbody"),
        Object.entries(status.positions).map(([symbol, p]) => [
          symbol, p.quantity, number(p.avg_cost), number(p.price), number(p.unrealized_pnl),
        ]));
      // A corporate action shares the trades file: its kind, the new quantity, the cash.
      fill(document.querySelector("#trades tbody"), trades.items.map((t) => t.action_id ? [
        t.timestamp, t.kind, `${t.quantity_before} → ${t.quantity_after}`, t.symbol,
        `cash ${number(t.cash)}`, "",
      ] : [
        t.timestamp, t.side, t.quantity, t.symbol, number(t.price, 4), t.strategy_version,
      ]));
      fill(document.querySelector("#events tbody"), events.items.map((e) => [
        e.timestamp, e.kind, e.message || e.printed,
      ]));
      document.getElementById("team").hidden = false;
      chart = draw(document.getElementById("team-chart"), { [team]: history.points }, chart);
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const key = keyInput.value.trim();
      document.getElementById("login-error").textContent = "";
      try {
        await open(key);
        sessionStorage.setItem("arena-key", key);
      } catch (error) {
        document.getElementById("login-error").textContent = error.message;
      }
    });
    document.getElementById("upload").addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = document.getElementById("upload-result");
      if (!current) return;
      const body = new FormData();
      body.append("file", document.getElementById("upload-file").files[0]);
      const entry = document.getElementById("upload-entry").value.trim();
      if (entry) body.append("entry_point", entry);
      result.textContent = "Checking and smoke-testing in the sandbox...";
      const answer = await fetch(`${current.base}/strategy`, {
        method: "POST", headers: { "X-API-Key": current.key }, body,
      });
      const reply = await answer.json();
      if (answer.status === 429) {
        result.textContent = tooMany(answer, reply, event.submitter);
        return;
      }
      if (!answer.ok) {
        const problems = reply.detail && reply.detail.problems;
        result.textContent = `Refused (${answer.status}): ` +
          (problems ? problems.join("; ") : JSON.stringify(reply.detail || reply));
        return;
      }
      if (answer.status === 202) {  // stored, but no engine runs on the competition now
        awaited = null;
        result.textContent = `Version ${reply.version} stored, but the engine is not running ` +
          "(the competition has finished or stopped): it goes live when the engine runs again." +
          smokeWarnings(reply);
        open(current.key, current.team);
        return;
      }
      awaited = { version: reply.version,
                  fault: JSON.stringify(shown ? shown.last_fault : null) };
      result.textContent = reply.again
        ? `Version ${reply.version} (code uploaded before) checked again; ` +
          "the engine swaps it in at its next tick."
        : `Version ${reply.version} accepted; live from the engine's next tick.`;
      result.textContent += smokeWarnings(reply);
      open(current.key, current.team);
    });
    document.getElementById("team-picker").addEventListener("change", (event) => {
      if (!current) return;
      awaited = null;
      document.getElementById("upload-result").textContent = "";
      open(current.key, event.target.value).catch((error) => {
        document.getElementById("login-error").textContent = error.message;
      });
    });
    setInterval(() => { if (current) open(current.key, current.team).catch(() => {}); }, 2000);
    const saved = sessionStorage.getItem("arena-key");
    if (saved) { keyInput.value = saved; open(saved).catch(() => {}); }
  }

  return { leaderboard, teamPage };
})();
