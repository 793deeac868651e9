/// The dashboard's stylesheet and script, served from memory (no build step, no files to
/// install). The script keeps pages live and carries out the actions through the API.
enum DashboardAssets {
    static let css = #"""
        :root { --bg:#f4f6f9; --card:#fff; --ink:#1d2430; --muted:#6b7483; --line:#e2e6ec; --accent:#2f6fdf;
                --warn:#c4422b; --ok:#2a9d5b; --amber:#d99a1e; font-family: system-ui, "DejaVu Sans", sans-serif; }
        * { box-sizing: border-box; }
        body { margin:0; background:var(--bg); color:var(--ink); font-size:14px; }
        a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
        .topbar { display:flex; align-items:center; gap:24px; padding:10px 24px; background:#17202e; color:#e8edf5; }
        .brand { font-weight:700; font-size:18px; letter-spacing:.3px; } .brand small { font-weight:400; color:#9fb0c8; margin-left:6px; }
        nav { display:flex; gap:4px; flex:1; }
        nav a { color:#c9d4e5; padding:6px 12px; border-radius:6px; } nav a.active, nav a:hover { background:#2a3648; color:#fff; text-decoration:none; }
        .who { display:flex; align-items:center; gap:8px; color:#c9d4e5; } .who form { margin:0; }
        .live { color:#6b7483; font-size:12px; } .live.on { color:#4cd07d; }
        main { padding:20px 24px 40px; max-width:1500px; margin:0 auto; }
        .card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px 18px; margin-bottom:18px;
                box-shadow:0 1px 2px rgba(20,30,50,.04); }
        .card h2 { margin:0 0 12px; font-size:15px; color:#334; text-transform:uppercase; letter-spacing:.6px; }
        .card h1 { margin:0 0 8px; font-size:22px; display:flex; align-items:center; gap:10px; flex-wrap:wrap; }
        .card h1 small { color:var(--muted); font-weight:400; }
        .columns { display:grid; grid-template-columns: 1fr 1fr; gap:18px; } .columns > .card { margin-bottom:18px; }
        @media (max-width: 1000px) { .columns { grid-template-columns: 1fr; } }
        .tiles { display:grid; grid-template-columns: repeat(5, 1fr); gap:14px; margin-bottom:18px; }
        .tile { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:12px 16px; border-top:4px solid var(--accent); }
        .tile.alert { border-top-color:var(--warn); }
        .tile-title { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.6px; }
        .tile-value { font-size:24px; font-weight:700; margin:4px 0; } .tile-detail { color:var(--muted); font-size:12px; }
        .badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; background:#e8ecf2; color:#334; }
        .badge.role { background:#2a3648; color:#dbe6f7; }
        .state-queued { background:#e6eefc; color:#234a9a; } .state-held, .state-saved { background:#fdf0d8; color:#8a5a00; }
        .state-starting { background:#e3f4f7; color:#11707e; } .state-running { background:#dff3e7; color:#1c6b3e; }
        .state-suspended { background:#efe6fb; color:#5a3596; } .state-completed { background:#eef1f4; color:#3c4654; }
        .state-failed { background:#fbe3df; color:#9d2a16; } .state-cancelled { background:#f1ecec; color:#6d5050; }
        .node-up { background:#dff3e7; color:#1c6b3e; } .node-draining, .node-drained { background:#fdf0d8; color:#8a5a00; }
        .node-unreachable, .node-failed, .node-fenced { background:#fbe3df; color:#9d2a16; } .node-connecting { background:#e6eefc; color:#234a9a; }
        .cpumap { display:flex; flex-direction:column; gap:6px; }
        .node-row { display:grid; grid-template-columns: 190px auto 210px 1fr auto; align-items:center; gap:12px; padding:4px 0;
                    border-bottom:1px dashed var(--line); }
        .node-name { font-weight:600; } .node-use, .node-note { color:var(--muted); font-size:12px; }
        .strip { display:flex; flex-wrap:wrap; gap:3px; }
        .cpu { display:inline-block; width:18px; height:22px; border-radius:3px; background:#edf0f4; border:1px solid #d9dee6; vertical-align:middle; }
        .cpu.busy { border-color:rgba(0,0,0,.15); }
        .cpu.pooled { outline:2px solid #17202e; outline-offset:-2px; }
        .cpu.pool-idle { background:repeating-linear-gradient(45deg,#dfe5ee,#dfe5ee 3px,#f7f9fb 3px,#f7f9fb 6px); }
        .cpu.pool-booting { background:repeating-linear-gradient(90deg,#e4e9f0,#e4e9f0 2px,#fff 2px,#fff 4px); }
        .legend { display:flex; flex-wrap:wrap; gap:14px; margin-top:12px; color:var(--muted); font-size:12px; }
        .legend-item { display:flex; align-items:center; gap:6px; }
        .swatch { display:inline-block; width:12px; height:12px; border-radius:3px; margin-right:6px; vertical-align:-1px; }
        .legend .swatch.cpu { width:14px; height:16px; margin:0; }
        .tree, .tree ul { list-style:none; margin:0; padding-left:0; } .tree ul { padding-left:18px; border-left:2px solid var(--line); margin:6px 0 10px 6px; }
        .tree li { padding:4px 0; } .counts { color:var(--muted); margin-left:8px; font-size:12px; }
        .limits { color:var(--muted); font-size:12px; } .note { color:var(--warn); font-size:12px; } .muted { color:var(--muted); }
        table.grid { width:100%; border-collapse:collapse; }
        table.grid th, table.grid td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
        table.grid th { font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.4px; }
        table.grid th a { color:inherit; } td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
        td.reason { color:#4a5566; max-width:420px; } tr:hover td { background:#f8fafc; }
        td.bars { width:40%; } .fs-bar.share { height:6px; background:#cfd6e0; border-radius:3px; } .fs-bar.usage { height:8px; border-radius:3px; margin-top:3px; }
        .history { display:flex; flex-direction:column; gap:14px; } .history-figures { display:grid; grid-template-columns: repeat(4,1fr); gap:14px; }
        .hours { display:grid; grid-template-columns: repeat(24, 1fr); gap:4px; height:110px; align-items:end; border-bottom:1px solid var(--line); }
        .hour { display:flex; flex-direction:column-reverse; height:100%; } .seg { width:100%; min-height:2px; }
        .seg.completed { background:var(--ok); } .seg.failed { background:var(--warn); } .seg.cancelled { background:#a9a2a2; }
        .filters { display:flex; flex-wrap:wrap; gap:8px; align-items:center; margin-bottom:14px; }
        select, input { font:inherit; padding:6px 8px; border:1px solid #cfd6e0; border-radius:6px; background:#fff; }
        .btn { font:inherit; padding:6px 14px; border-radius:6px; border:1px solid #c5cdd8; background:#fff; cursor:pointer; font-weight:600; }
        .btn:hover { background:#f1f4f8; } .btn.warn { color:var(--warn); border-color:#e7b5ab; } .btn.primary { background:var(--accent); color:#fff; border-color:var(--accent); }
        button.link { background:none; border:none; color:#9fb0c8; cursor:pointer; font:inherit; text-decoration:underline; }
        .actions { margin-left:auto; display:flex; gap:8px; } .actions .btn { font-size:14px; }
        dl.fields { display:grid; grid-template-columns: 140px 1fr 140px 1fr; gap:6px 12px; margin:12px 0 0; }
        dl.fields dt { color:var(--muted); } dl.fields dd { margin:0; }
        .waiting { background:#fdf6e6; border-left:4px solid var(--amber); padding:8px 12px; border-radius:4px; }
        .reason { color:#4a5566; } .timeline { list-style:none; padding:0; margin:0; }
        .timeline li { padding:6px 0 6px 14px; border-left:2px solid var(--line); position:relative; }
        .timeline li::before { content:""; position:absolute; left:-6px; top:11px; width:10px; height:10px; border-radius:50%; background:#cfd6e0; }
        .timeline time { color:var(--muted); font-size:12px; margin-right:6px; }
        pre.log { background:#121923; color:#d8e1ee; padding:12px; border-radius:8px; max-height:320px; overflow:auto; font-size:12px; white-space:pre-wrap; }
        dialog { border:none; border-radius:10px; padding:20px; box-shadow:0 10px 40px rgba(0,0,0,.25); min-width:380px; }
        dialog label { display:flex; flex-direction:column; gap:4px; margin:10px 0; } dialog menu { display:flex; justify-content:flex-end; gap:8px; padding:0; }
        #toast { position:fixed; right:20px; bottom:20px; background:#17202e; color:#fff; padding:10px 16px; border-radius:8px; opacity:0;
                 transition:opacity .2s; pointer-events:none; max-width:480px; } #toast.show { opacity:.95; } #toast.error { background:var(--warn); }
        body.login { display:flex; align-items:center; justify-content:center; min-height:100vh; }
        .login-card { width:420px; } .login-card label { display:flex; flex-direction:column; gap:6px; margin:14px 0; } .error { color:var(--warn); }
        .card.error h1 { color:var(--warn); }
        """#

    static let javascript = #"""
        "use strict";
        (() => {
          const main = () => document.getElementById("main");
          // Redraws come at most every 700 ms however fast events arrive (a busy site).
          const minInterval = 700;
          let timer = null, busy = false, last = 0;

          function toast(text, error) {
            const t = document.getElementById("toast");
            if (!t) return;
            t.textContent = text;
            t.className = "show" + (error ? " error" : "");
            clearTimeout(t._hide);
            t._hide = setTimeout(() => { t.className = ""; }, 4000);
          }

          // Fetches this page's <main> again and swaps it in, unless the user is typing or in a dialog.
          async function refresh() {
            timer = null;
            const active = document.activeElement;
            if (busy || document.querySelector("dialog[open]") || (active && active.matches("input, select"))) {
              schedule(1000);
              return;
            }
            busy = true;
            last = Date.now();
            try {
              const url = new URL(location.href);
              url.searchParams.set("fragment", "1");
              const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
              if (response.redirected && response.url.includes("/ui/login")) { location.href = "/ui/login"; return; }
              if (response.ok) main().innerHTML = await response.text();
            } catch (e) {
              /* the next event retries */
            } finally {
              busy = false;
            }
          }
          function schedule(delay) {
            if (!timer) timer = setTimeout(refresh, Math.max(delay, minInterval - (Date.now() - last)));
          }

          function follow() {
            if (!window.EventSource || document.body.classList.contains("login")) return;
            const dot = document.getElementById("live");
            const source = new EventSource("/ui/events");
            source.addEventListener("open", () => { if (dot) dot.classList.add("on"); });
            source.addEventListener("error", () => { if (dot) dot.classList.remove("on"); });
            source.addEventListener("job", () => schedule(150));
            source.addEventListener("tick", () => schedule(150));
          }

          async function call(method, url, body) {
            const response = await fetch(url, {
              method, credentials: "same-origin",
              headers: { "Content-Type": "application/json", "X-VBatch-UI": "1" },
              body: body === undefined ? undefined : JSON.stringify(body),
            });
            let payload = {};
            try { payload = await response.json(); } catch (e) { /* not JSON */ }
            if (!response.ok) throw new Error(payload.error || response.statusText);
            return payload;
          }

          async function act(button) {
            const action = button.dataset.action, job = button.dataset.job, node = button.dataset.node;
            try {
              if (action === "drain-node") {
                const dialog = document.getElementById("drain-dialog");
                document.getElementById("drain-node").textContent = node;
                dialog.querySelector("input[name=reason]").value = "";
                dialog.returnValue = "";
                dialog.onclose = async () => {
                  if (dialog.returnValue !== "drain") return;
                  const form = document.getElementById("drain-form");
                  const reason = form.reason.value.trim() || "drained from the dashboard";
                  try {
                    await call("POST", `/v1/nodes/${encodeURIComponent(node)}/state`, { enabled: false, reason, mode: form.mode.value });
                    toast(`${node} drained`);
                  } catch (e) { toast(e.message, true); }
                  schedule(10);
                };
                dialog.showModal();
                return;
              }
              if (action === "resume-node") {
                await call("POST", `/v1/nodes/${encodeURIComponent(node)}/state`, { enabled: true });
                toast(`${node} resumed`);
              } else if (action === "cancel") {
                if (!confirm(`Cancel job ${job}?`)) return;
                await call("DELETE", `/v1/jobs/${job}`);
                toast(`job ${job} cancelled`);
              } else if (action === "hold" || action === "release") {
                await call("POST", `/v1/jobs/${job}/${action}`);
                toast(`job ${job}: ${action}`);
              }
            } catch (e) {
              toast(e.message, true);
            }
            schedule(10);
          }

          document.addEventListener("click", (event) => {
            const button = event.target.closest("[data-action]");
            if (button) { event.preventDefault(); act(button); }
          });
          document.addEventListener("change", (event) => {
            const form = event.target.closest("#filters");
            if (form && event.target.matches("select")) form.submit();
          });
          // Lets the page's own script (and tests) make an API call the way the buttons do.
          window.vbatch = { call, refresh };
          follow();
        })();
        """#
}
