// The page's two charts, drawn with TradingView's lightweight-charts (served by this server at
// /lightweight-charts.js, from the npm package deno.json pins): the trades over time, one candle
// and one volume bar per second, and the book's cumulative depth. Values arrive as exact decimal
// strings; they become numbers here only to be drawn. Cumulative depth is summed exactly first.
// The series are on `globalThis.exchangeCharts`, so that tests read back what was drawn.
"use strict";

(() => {
  const LWC = globalThis.LightweightCharts;
  if (!LWC) {
    // The ladder and the trades still work without charts: say so instead of failing.
    console.error("lightweight-charts did not load; the page shows no charts");
    return;
  }

  const COLORS = {
    text: "#9fb0cc",
    line: "#22304d",
    grid: "#1a2540",
    bid: "#4ade80",
    bidFill: "rgba(74, 222, 128, 0.22)",
    ask: "#fb8a9a",
    askFill: "rgba(251, 138, 154, 0.22)",
    upVolume: "rgba(74, 222, 128, 0.45)",
    downVolume: "rgba(251, 138, 154, 0.45)",
  };

  // --- Exact decimals: plain strings like "501.25" (no sign, no exponent), summed as BigInt.

  function toScaled(text) {
    const [whole, fraction = ""] = text.split(".");
    return { digits: BigInt(whole + fraction), scale: fraction.length };
  }

  function addDecimal(a, b) {
    const x = toScaled(a);
    const y = toScaled(b);
    const scale = Math.max(x.scale, y.scale);
    const sum = x.digits * 10n ** BigInt(scale - x.scale) +
      y.digits * 10n ** BigInt(scale - y.scale);
    if (scale === 0) return sum.toString();
    const padded = sum.toString().padStart(scale + 1, "0");
    const fraction = padded.slice(-scale).replace(/0+$/, "");
    const whole = padded.slice(0, -scale);
    return fraction === "" ? whole : `${whole}.${fraction}`;
  }

  /** Levels best first -> the same levels with the shares at that price or better, exactly. */
  function cumulative(levels) {
    let total = "0";
    return levels.map((level) => {
      total = addDecimal(total, level.shares);
      return { price: level.price, total };
    });
  }

  /**
   * Points for a price-axis series: ascending by price, as the library requires. Two prices that
   * differ only beyond a double's precision would collide; the larger depth is kept for both.
   */
  function depthPoints(levels) {
    const points = levels
      .map((level) => ({ time: Number(level.price), value: Number(level.total) }))
      .sort((a, b) => a.time - b.time);
    const unique = [];
    for (const point of points) {
      const last = unique[unique.length - 1];
      if (last && last.time === point.time) last.value = Math.max(last.value, point.value);
      else unique.push(point);
    }
    return unique;
  }

  // Prices and sizes keep up to 10 significant digits on the axes, trailing zeros dropped.
  const formatNumber = (value) => String(+value.toPrecision(10));
  const NUMBER_FORMAT = { type: "custom", formatter: formatNumber, minMove: 0.00000001 };
  const localTime = (seconds) => new Date(seconds * 1000).toLocaleTimeString([], { hour12: false });

  function baseOptions() {
    return {
      autoSize: true,
      layout: {
        background: { type: LWC.ColorType.Solid, color: "transparent" },
        textColor: COLORS.text,
        fontSize: 12,
      },
      grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
      rightPriceScale: { borderColor: COLORS.line },
      timeScale: { borderColor: COLORS.line },
    };
  }

  function priceChart(container) {
    const options = baseOptions();
    // Trade times are shown in the browser's time zone, like the list of trades.
    options.localization = { timeFormatter: localTime, priceFormatter: formatNumber };
    options.timeScale = {
      ...options.timeScale,
      timeVisible: true,
      secondsVisible: true,
      // A few candles are drawn at most this wide instead of filling the whole chart.
      maxBarSpacing: 28,
      tickMarkFormatter: (time, type) =>
        type <= LWC.TickMarkType.DayOfMonth
          ? new Date(time * 1000).toLocaleDateString()
          : localTime(time),
    };
    const chart = LWC.createChart(container, options);
    const candles = chart.addSeries(LWC.CandlestickSeries, {
      upColor: COLORS.bid,
      downColor: COLORS.ask,
      borderVisible: false,
      wickUpColor: COLORS.bid,
      wickDownColor: COLORS.ask,
      priceFormat: NUMBER_FORMAT,
    });
    // Volume sits under the candles on its own hidden scale, in the lowest quarter.
    const volume = chart.addSeries(LWC.HistogramSeries, {
      priceScaleId: "volume",
      priceFormat: NUMBER_FORMAT,
      lastValueVisible: false,
      priceLineVisible: false,
    });
    chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.3 } });
    return { chart, candles, volume };
  }

  function depthChart(container) {
    const options = baseOptions();
    // The horizontal axis is price: an 'options' chart (lightweight-charts 5).
    options.localization = { priceFormatter: formatNumber, precision: 2 };
    const chart = LWC.createOptionsChart(container, options);
    const side = (line, fill) =>
      chart.addSeries(LWC.AreaSeries, {
        lineColor: line,
        topColor: fill,
        bottomColor: "rgba(0, 0, 0, 0)",
        lineWidth: 2,
        lineType: LWC.LineType.WithSteps,
        priceFormat: NUMBER_FORMAT,
        lastValueVisible: false,
        priceLineVisible: false,
      });
    return {
      chart,
      bids: side(COLORS.bid, COLORS.bidFill),
      asks: side(COLORS.ask, COLORS.askFill),
    };
  }

  const price = priceChart(document.getElementById("price-chart"));
  const depth = depthChart(document.getElementById("depth-chart"));
  let depthPrecision = -1;
  let candleCount = 0;

  /** Narrowest candle that a reader still sees as one, in pixels, when all are shown at once. */
  const CANDLE_PX_MIN = 6;

  /**
   * After new candles: a reader who was watching the newest one keeps watching it (all candles
   * while they fit, else the newest at the current zoom); one who scrolled back stays there.
   */
  function follow(count, wasFollowing) {
    if (count === candleCount || !wasFollowing) return;
    const scale = price.chart.timeScale();
    if (count * CANDLE_PX_MIN <= scale.width()) scale.fitContent();
    else scale.scrollToRealTime();
  }

  /** Decimals the depth chart's price axis needs to tell the book's levels apart. */
  function pricePrecision(book) {
    let digits = 0;
    for (const level of [...book.bids, ...book.asks]) {
      digits = Math.max(digits, (level.price.split(".")[1] ?? "").length);
    }
    return digits;
  }

  /** Draws one feed snapshot: its candles and its book. */
  function draw(snapshot) {
    const { candles, book } = snapshot;
    const range = price.chart.timeScale().getVisibleLogicalRange();
    const wasFollowing = range === null || range.to >= candleCount - 1;
    price.candles.setData(candles.map((c) => ({
      time: c.time,
      open: Number(c.open),
      high: Number(c.high),
      low: Number(c.low),
      close: Number(c.close),
    })));
    price.volume.setData(candles.map((c) => ({
      time: c.time,
      value: Number(c.shares),
      color: Number(c.close) >= Number(c.open) ? COLORS.upVolume : COLORS.downVolume,
    })));
    follow(candles.length, wasFollowing);
    candleCount = candles.length;
    // The 'options' chart writes prices on its axis with a fixed number of decimals.
    const precision = pricePrecision(book);
    if (precision !== depthPrecision) {
      depth.chart.applyOptions({ localization: { precision } });
      depthPrecision = precision;
    }
    depth.bids.setData(depthPoints(cumulative(book.bids)));
    depth.asks.setData(depthPoints(cumulative(book.asks)));
    depth.chart.timeScale().fitContent();
    document.getElementById("no-candles").hidden = candles.length > 0;
  }

  /** A new symbol: its chart starts from its newest candles. */
  function reset() {
    price.candles.setData([]);
    price.volume.setData([]);
    candleCount = 0;
  }

  globalThis.exchangeCharts = { price, depth, draw, reset, addDecimal };
})();
