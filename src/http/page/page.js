// The live order-book page: one EventSource per open symbol, no build step, no framework.
// Every value from the server is written with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let source = null;
let previous = { levels: new Set(), trades: 0 };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "className") node.className = value;
    else if (key === "style") node.setAttribute("style", value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// Exact decimal strings compared as numbers only for display decisions (arrows, bar widths).
const num = (text) => Number(text);

function timeOf(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour12: false });
}

function setStatus(text, state) {
  const status = $("status");
  status.textContent = text;
  status.className = "status " + state;
}

function levelRow(side, level, widest, fresh) {
  const width = widest > 0 ? Math.max(2, Math.round((num(level.shares) / widest) * 100)) : 0;
  return el(
    "tr",
    {
      className: side + (fresh ? " flash" : ""),
      "data-side": side,
      "data-price": level.price,
      "data-shares": level.shares,
      style: `background-size: ${width}% 100%`,
    },
    el("td", { className: "side" }, side === "bid" ? "Bid" : "Ask"),
    el("td", { className: "num price" }, level.price),
    el("td", { className: "num" }, level.shares),
    el("td", { className: "num" }, String(level.orders)),
  );
}

function render(snapshot) {
  const { book, trades } = snapshot;
  const widest = Math.max(
    0,
    ...book.bids.map((l) => num(l.shares)),
    ...book.asks.map((l) => num(l.shares)),
  );
  const levels = new Set();
  const rows = (side, list) =>
    list.map((level) => {
      const key = side + ":" + level.price + ":" + level.shares;
      levels.add(key);
      return levelRow(side, level, widest, previous.levels.size > 0 && !previous.levels.has(key));
    });
  // Asks are listed highest first so that the best ask sits just above the spread.
  $("asks").replaceChildren(...rows("ask", [...book.asks].reverse()));
  $("bids").replaceChildren(...rows("bid", book.bids));
  previous.levels = levels;

  const bestBid = book.bids[0];
  const bestAsk = book.asks[0];
  $("best-bid").textContent = bestBid ? bestBid.price : "—";
  $("best-ask").textContent = bestAsk ? bestAsk.price : "—";
  let spread = "—";
  if (bestBid && bestAsk) {
    spread = String(+(num(bestAsk.price) - num(bestBid.price)).toPrecision(12));
  }
  $("spread").textContent = spread;
  $("spread-cell").textContent = book.bids.length + book.asks.length === 0
    ? "No open orders"
    : `Spread ${spread}`;

  const list = trades.trades;
  const tradeRows = list.map((trade, i) => {
    const older = list[i + 1];
    let direction = "";
    let arrow = "";
    if (older && num(trade.price) > num(older.price)) {
      direction = "up";
      arrow = "▲ ";
    }
    if (older && num(trade.price) < num(older.price)) {
      direction = "down";
      arrow = "▼ ";
    }
    return el(
      "tr",
      {
        className: i < list.length - previous.trades && previous.trades > 0 ? "flash" : "",
        "data-price": trade.price,
        "data-shares": trade.shares,
      },
      el("td", { className: "num" }, timeOf(trade.time)),
      el("td", { className: "num " + direction }, arrow + trade.price),
      el("td", { className: "num" }, trade.shares),
    );
  });
  $("trades").replaceChildren(...tradeRows);
  previous.trades = list.length;
  $("no-trades").hidden = list.length > 0;
  $("last").textContent = list[0] ? list[0].price : "—";
  $("rate").textContent = String(trades.tradesLastMinute);
  $("volume").textContent = trades.sharesLastMinute;
  // charts.js defines this unless the chart library failed to load.
  globalThis.exchangeCharts?.draw(snapshot);
}

function open(sym) {
  if (source) source.close();
  previous = { levels: new Set(), trades: 0 };
  globalThis.exchangeCharts?.reset();
  document.title = `${sym} · Order book`;
  $("book-title").textContent = `Depth · ${sym}`;
  setStatus("connecting…", "");
  source = new EventSource(`/api/feed/${encodeURIComponent(sym)}`);
  source.addEventListener("market", (event) => {
    render(JSON.parse(event.data));
    setStatus(`live · updated ${new Date().toLocaleTimeString([], { hour12: false })}`, "live");
  });
  source.addEventListener("error", () => {
    setStatus("connection lost · reconnecting", "down");
  });
}

async function loadSymbols(selected) {
  const response = await fetch("/api/symbols");
  const { symbols } = await response.json();
  const select = $("sym");
  const keep = selected ?? select.value;
  if (keep && !symbols.includes(keep)) symbols.unshift(keep);
  select.replaceChildren(...symbols.map((sym) => el("option", { value: sym }, sym)));
  if (keep) select.value = keep;
  return symbols;
}

async function start() {
  const wanted = new URLSearchParams(location.search).get("sym");
  let symbols = [];
  try {
    symbols = await loadSymbols(wanted);
  } catch {
    setStatus("server unreachable", "down");
  }
  const sym = wanted ?? symbols[0];
  if (!sym) {
    setStatus("no symbols yet: create one over the exchange protocol", "");
    return;
  }
  if (!wanted) history.replaceState(null, "", `?sym=${encodeURIComponent(sym)}`);
  open(sym);
  $("sym").addEventListener("change", (event) => {
    const next = event.target.value;
    history.pushState(null, "", `?sym=${encodeURIComponent(next)}`);
    open(next);
  });
  // The list is fetched again only when someone opens it: no polling.
  $("sym").addEventListener("focus", () => loadSymbols().catch(() => {}));
  $("pick").addEventListener("submit", (event) => event.preventDefault());
}

start();
