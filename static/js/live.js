// One live connection: a snapshot first, then events applied in sequence order.
// A gap in the sequence (a dropped message) asks for a new snapshot; a dropped socket
// reconnects with backoff and resynchronises the same way. Nothing is polled.
// `path` may be a function: it is asked again on every (re)connect (the run list names its rows).

export function connectLive(path, handlers) {
  const state = { socket: null, seq: null, attempts: 0, closed: false, paused: false, timer: null };
  const status = (text) => handlers.onStatus && handlers.onStatus(text);

  function open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const where = typeof path === "function" ? path() : path;
    const socket = new WebSocket(`${scheme}://${location.host}${where}`);
    state.socket = socket;
    socket.onopen = () => { state.attempts = 0; status("live"); };
    socket.onmessage = (message) => receive(JSON.parse(message.data));
    socket.onclose = (event) => {
      state.seq = null;
      if (state.closed) return;
      if (event.code >= 4400 && event.code < 4500) { status("refused"); return; }
      status("offline");
      if (state.paused) return;
      // Exponential backoff with jitter, capped at 15 s.
      const delay = Math.min(15000, 400 * 2 ** state.attempts) * (0.75 + Math.random() / 2);
      state.attempts += 1;
      state.timer = setTimeout(open, delay);
    };
  }

  function receive(message) {
    if (message.type === "snapshot") {
      state.seq = typeof message.seq === "number" ? message.seq : null;
      handlers.onSnapshot && handlers.onSnapshot(message);
      return;
    }
    if (message.type !== "events") return;
    for (const event of message.events) {
      if (event.seq === undefined) {  // logs and usage samples are ordered by their own keys
        handlers.onUnsequenced && handlers.onUnsequenced(event);
        continue;
      }
      if (state.seq === null) {  // a list page has no run-wide sequence
        if (!handlers.sequenced) handlers.onEvent(event);
        continue;
      }
      if (event.seq <= state.seq) continue;  // already part of the snapshot
      if (event.seq > state.seq + 1) { resync(); return; }
      state.seq = event.seq;
      handlers.onEvent(event);
    }
  }

  function resync() {
    state.seq = null;
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify({ action: "resync" }));
    }
  }

  open();
  return {
    get seq() { return state.seq; },
    get socket() { return state.socket; },
    // Drop the connection as a network failure would; it reconnects by itself.
    drop() { if (state.socket) state.socket.close(); },
    // Stay disconnected until resume(): lets a test make changes happen while the page is away.
    pause() { state.paused = true; clearTimeout(state.timer); if (state.socket) state.socket.close(); },
    resume() { state.paused = false; state.attempts = 0; open(); },
    close() { state.closed = true; clearTimeout(state.timer); if (state.socket) state.socket.close(); },
  };
}

export function setLiveState(element, text) {
  if (!element) return;
  element.className = `live-state ${text}`;
  element.textContent = { live: "live", offline: "reconnecting…", refused: "not allowed" }[text] || text;
}

export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)}s`;
  const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
  if (m < 60) return `${m}m ${String(s).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

export function formatBytes(bytes) {
  if (!bytes) return "";
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

export function elapsed(startedIso, finishedIso) {
  if (!startedIso) return null;
  const end = finishedIso ? Date.parse(finishedIso) : Date.now();
  return Math.max(0, (end - Date.parse(startedIso)) / 1000);
}
