/*!
 * Evergreen Wealth 长青财富 — the supervisors' quality dashboard (quality.html).
 *
 * Plain JavaScript, no build step; served by bot/console/pages.py under the
 * console's Content-Security-Policy; quality.html loads shared.js (the HTTP helper and labels the
 * front ends share) before it. It reads /console/api/me and
 * /console/api/quality/dashboard (docs/console.md, "Quality dashboard") and shows the figures as
 * they come: nothing is estimated or recomputed here, only formatted ("—" for a figure that has
 * no value, percentages with one decimal). Every text goes on the page with textContent and
 * every chart is built from SVG elements (no innerHTML anywhere). The CSV links name the same
 * filters as the figures on the page.
 *
 * A 401 means nobody is logged in: off to the console's login page. A 403 means an agent:
 * "Supervisors only".
 */
(function () {
  'use strict';

  var API = '/console/api';
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var FILTERS = ['from', 'to', 'channel', 'queue', 'language'];
  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  var LIST_DAYS = 31; // a chart's description lists every day up to this many, else sums up

  var Shared = window.EvergreenShared; // shared.js: the HTTP helper and the labels the pages share
  var CHANNELS = {}; // kind -> name, from GET /console/api/channels (the installed channels)
  var QUEUES = Shared.labels.queues;
  var LANGUAGES = Shared.labels.languages;
  var TRIGGERS = { agent: 'An agent', bot: 'The assistant' };
  var REASONS = Shared.labels.reasons;
  var DEADLINES = {
    first_reply: 'Acknowledged within 24 h',
    resolution: 'Resolved within 5/10 working days',
    regulatory: 'Regulatory decision within 15 days'
  };
  var CATEGORIES = {
    product_service: 'Product or service quality',
    fees: 'Fees and charges',
    contract_legal: 'Contract, legal or regulatory',
    other: 'Other'
  };

  function $(id) { return document.getElementById(id); }
  var el = {
    boot: $('boot'), denied: $('denied'), deniedTitle: $('denied-title'), board: $('board'),
    user: $('user'), userName: $('user-name'), userRole: $('user-role'),
    period: $('board-period'), computed: $('computed'), form: $('filters'), apply: $('apply'),
    error: $('error'), status: $('status'), figures: document.querySelectorAll('.q-toc, .q-section')
  };
  var inputs = {};
  FILTERS.forEach(function (name) { inputs[name] = $('f-' + name); });
  var applied = null; // the filters of the figures on the page, as the service answered them
  var csrf = null; // from /console/api/me, for labelling (in memory only)
  var chartNumber = 0;

  // h('p', {class: 'x', text: 'y'}, [children]) — strings become text nodes; svg(...) the same for SVG.
  function build(node, attrs, children) {
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v === true ? '' : String(v));
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }
  function h(tag, attrs, children) { return build(document.createElement(tag), attrs, children); }
  function svg(tag, attrs, children) { return build(document.createElementNS(SVG_NS, tag), attrs, children); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  // ------------------------------------------------------------------ formatting
  function label(map, key) { return isNone(key) ? '—' : Object.prototype.hasOwnProperty.call(map, key) ? map[key] : String(key); }
  function isNone(value) { return value === null || value === undefined; }
  function count(n) { return isNone(n) ? '—' : Number(n).toLocaleString('en-US'); }
  function percent(rate) { return isNone(rate) ? '—' : (rate * 100).toFixed(1) + '%'; }
  function stars(value) { return isNone(value) ? '—' : Number(value).toFixed(2); }
  function seconds(s) {
    if (isNone(s)) return '—';
    if (s < 60) return s.toFixed(1) + ' s';
    var whole = Math.round(s);
    var m = Math.floor(whole / 60);
    if (m < 60) return m + ' min ' + pad(whole % 60) + ' s';
    return Math.floor(m / 60) + ' h ' + pad(m % 60) + ' min';
  }
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function day(iso) { // "2026-11-30" -> "30 Nov" (a Beijing date as the service sent it)
    var parts = String(iso).split('-');
    return Number(parts[2]) + ' ' + MONTHS[Number(parts[1]) - 1];
  }
  function longDay(iso) { return day(iso) + ' ' + String(iso).split('-')[0]; }
  function dateTime(iso) {
    var d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return '—';
    return d.toLocaleString('en-GB', {
      day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'Asia/Shanghai'
    });
  }
  function plural(n, one, many) { return count(n) + ' ' + (n === 1 ? one : many); }

  // ------------------------------------------------------------------ HTTP
  function getJSON(path) { return call('GET', path); }
  function call(method, path, body) {
    return Shared.request(method, API + path, body, {
      headers: method !== 'GET' && csrf ? { 'X-CSRF-Token': csrf } : null,
      unreachable: 'Cannot reach the contact service. Check the connection and try again.'
    });
  }

  function query(filters) {
    var params = new URLSearchParams();
    FILTERS.forEach(function (name) { if (filters[name]) params.set(name, filters[name]); });
    return params.toString();
  }

  function csvLink(table, title) {
    return h('a', {
      class: 'c-btn c-btn--small c-btn--secondary q-csv', href: API + '/quality/' + table + '.csv?' + query(applied),
      download: true, 'data-table': table, 'aria-label': 'Download “' + title + '” as CSV', text: 'CSV'
    });
  }

  // ------------------------------------------------------------------ building blocks
  // tone: 'good' | 'bad' | 'warn' | null (a coloured edge; the text says the same).
  function kpi(key, name, value, sub, tone) {
    return h('div', { class: 'q-kpi' + (tone ? ' q-kpi--' + tone : ''), 'data-kpi': key }, [
      h('p', { class: 'q-kpi-label', text: name }),
      h('p', { class: 'q-kpi-value', text: value }),
      sub ? h('p', { class: 'q-kpi-sub', text: sub }) : null
    ]);
  }
  function rateTone(rate) { return isNone(rate) ? null : rate >= 1 ? 'good' : rate >= 0.9 ? 'warn' : 'bad'; }
  function statusLine(d) { return 'met ' + d.met + ' · missed ' + d.missed + ' · pending ' + d.pending; }

  function card(title, body, table) {
    var id = 'q-chart-' + (++chartNumber);
    return h('figure', { class: 'c-card q-chart', 'aria-labelledby': id }, [
      h('div', { class: 'q-card-head' }, [h('h3', { class: 'q-h3', id: id, text: title }), table ? csvLink(table, title) : null])
    ].concat(body));
  }

  function chartSvg(kind, width, height, title, description) {
    var id = 'q-svg-' + (++chartNumber);
    return svg('svg', {
      class: 'q-svg', viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'data-chart': kind,
      'aria-labelledby': id + '-t ' + id + '-d'
    }, [svg('title', { id: id + '-t', text: title }), svg('desc', { id: id + '-d', text: description })]);
  }

  // The top of a value axis and its ticks: 1, 2 or 5 times a power of ten, four steps or fewer.
  function axis(max, whole) {
    if (!(max > 0)) return { top: whole ? 4 : 1, ticks: whole ? [0, 1, 2, 3, 4] : [0, 0.25, 0.5, 0.75, 1] };
    var raw = max / 4;
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (f) { return f * power; }).filter(function (s) { return s >= raw; })[0];
    if (whole) step = Math.max(1, Math.ceil(step));
    var ticks = [];
    for (var i = 0; i <= Math.ceil(max / step - 1e-9); i++) ticks.push(i * step);
    return { top: ticks[ticks.length - 1], ticks: ticks };
  }

  function describeDays(noun, days, values, format) {
    var known = values.filter(function (v) { return !isNone(v); });
    if (!known.length) return 'No ' + noun + ' in this period.';
    if (days.length <= LIST_DAYS) {
      return days.map(function (d, i) { return day(d) + ': ' + (isNone(values[i]) ? 'none' : format(values[i])); }).join('; ') + '.';
    }
    var top = Math.max.apply(null, known);
    return known.length + ' of ' + days.length + ' days with ' + noun + '; highest ' + format(top) + ' on ' +
      day(days[values.indexOf(top)]) + '.';
  }

  /* A value per day: bars ('bar') or a line with a point per day that has a value ('line').
     o: {title, noun, days, values, kind, format, tick, whole, top, ticks} */
  function trendChart(o) {
    var W = 560, H = 220, L = 48, R = 14, T = 14, B = 30, pw = W - L - R, ph = H - T - B;
    var known = o.values.filter(function (v) { return !isNone(v); });
    var scale = o.ticks ? { top: o.ticks[o.ticks.length - 1], ticks: o.ticks } : axis(Math.max.apply(null, known.concat([0])), o.whole);
    if (o.top && scale.top > o.top) scale = axis(o.top, o.whole);
    var chart = chartSvg(o.kind, W, H, o.title, describeDays(o.noun, o.days, o.values, o.format));
    function y(v) { return T + ph - (v / scale.top) * ph; }
    scale.ticks.forEach(function (t) {
      chart.appendChild(svg('line', { class: t ? 'q-grid' : 'q-base', x1: L, x2: W - R, y1: y(t), y2: y(t) }));
      chart.appendChild(svg('text', { class: 'q-axis', x: L - 8, y: y(t) + 4, 'text-anchor': 'end', text: o.tick(t) }));
    });
    var n = o.days.length, band = pw / n, every = Math.ceil(n / 8);
    function x(i) { return L + band * (i + 0.5); }
    o.days.forEach(function (d, i) {
      if (i % every === 0) {
        chart.appendChild(svg('text', { class: 'q-axis', x: x(i), y: H - 10, 'text-anchor': 'middle', text: day(d) }));
      }
    });
    var tip = function (i) { return longDay(o.days[i]) + ': ' + o.format(o.values[i]); };
    if (o.kind === 'bar') {
      var width = Math.max(1, Math.min(band * 0.64, 44));
      o.values.forEach(function (v, i) {
        if (isNone(v)) return;
        chart.appendChild(svg('rect', {
          class: 'q-bar', x: x(i) - width / 2, y: y(v), width: width, height: T + ph - y(v), rx: Math.min(3, width / 3),
          'data-day': o.days[i], 'data-value': v
        }, [svg('title', { text: tip(i) })]));
      });
    } else {
      var path = '', pen = false;
      o.values.forEach(function (v, i) {
        if (isNone(v)) { pen = false; return; }
        path += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1);
        pen = true;
      });
      if (path) chart.appendChild(svg('path', { class: 'q-line', d: path }));
      o.values.forEach(function (v, i) {
        if (isNone(v)) return;
        chart.appendChild(svg('circle', { class: 'q-point', cx: x(i), cy: y(v), r: 4, 'data-day': o.days[i], 'data-value': v },
          [svg('title', { text: tip(i) })]));
      });
    }
    if (!known.length || (o.kind === 'bar' && !Math.max.apply(null, known))) {
      chart.appendChild(svg('text', { class: 'q-empty', x: L + pw / 2, y: T + ph / 2, 'text-anchor': 'middle', text: 'No ' + o.noun + ' in this period' }));
    }
    return chart;
  }

  /* Horizontal bars, one per item: [{label, value, tone}], longest bar = largest value. */
  function barsChart(title, noun, items, format) {
    var longest = Math.max.apply(null, items.map(function (item) { return item.label.length; }).concat([4]));
    var W = 560, L = Math.min(Math.max(longest * 7 + 20, 70), 230), R = 56, row = 30, T = 6;
    var H = T * 2 + row * Math.max(items.length, 1);
    var total = items.reduce(function (sum, item) { return sum + item.value; }, 0);
    var description = total ? items.map(function (item) { return item.label + ': ' + format(item.value); }).join('; ') + '.'
      : 'No ' + noun + ' in this period.';
    var chart = chartSvg('bars', W, H, title, description);
    if (!total) {
      chart.appendChild(svg('text', { class: 'q-empty', x: W / 2, y: H / 2 + 4, 'text-anchor': 'middle', text: 'No ' + noun + ' in this period' }));
      return chart;
    }
    var widest = Math.max.apply(null, items.map(function (item) { return item.value; }));
    items.forEach(function (item, i) {
      var top = T + i * row, width = (W - L - R) * item.value / widest;
      chart.appendChild(svg('text', { class: 'q-label', x: L - 10, y: top + row / 2 + 4, 'text-anchor': 'end', text: item.label }));
      chart.appendChild(svg('rect', { class: 'q-track', x: L, y: top + 6, width: W - L - R, height: row - 12, rx: 3 }));
      chart.appendChild(svg('rect', {
        class: 'q-bar' + (item.tone ? ' q-bar--' + item.tone : ''), x: L, y: top + 6, width: width, height: row - 12, rx: 3,
        'data-label': item.label, 'data-value': item.value
      }, [svg('title', { text: item.label + ': ' + format(item.value) })]));
      chart.appendChild(svg('text', { class: 'q-value', x: L + width + 8, y: top + row / 2 + 4, text: format(item.value) }));
    });
    return chart;
  }

  /* One bar per deadline, split into met / missed / pending. */
  function deadlinesChart(title, deadlines) {
    var parts = [['met', 'Met'], ['missed', 'Missed'], ['pending', 'Pending']];
    var names = Object.keys(deadlines);
    var W = 560, L = 230, R = 14, row = 34, T = 6, H = T * 2 + row * names.length;
    var total = names.reduce(function (sum, name) { var d = deadlines[name]; return sum + d.met + d.missed + d.pending; }, 0);
    var description = total ? names.map(function (name) { return label(DEADLINES, name) + ': ' + statusLine(deadlines[name]); }).join('; ') + '.'
      : 'No complaints in this period.';
    var chart = chartSvg('deadlines', W, H, title, description);
    if (!total) {
      chart.appendChild(svg('text', { class: 'q-empty', x: L + (W - L - R) / 2, y: H / 2 + 4, 'text-anchor': 'middle', text: 'No complaints in this period' }));
    }
    names.forEach(function (name, i) {
      var d = deadlines[name], all = d.met + d.missed + d.pending, top = T + i * row, x = L;
      chart.appendChild(svg('text', { class: 'q-label', x: L - 10, y: top + row / 2 + 4, 'text-anchor': 'end', text: label(DEADLINES, name) }));
      if (!all) return;
      parts.forEach(function (part) {
        var n = d[part[0]];
        if (!n) return;
        var width = (W - L - R) * n / all;
        chart.appendChild(svg('rect', {
          class: 'q-seg q-seg--' + part[0], x: x, y: top + 7, width: width, height: row - 14,
          'data-deadline': name, 'data-status': part[0], 'data-value': n
        }, [svg('title', { text: label(DEADLINES, name) + ' — ' + part[1].toLowerCase() + ': ' + n })]));
        if (width > 22) {
          chart.appendChild(svg('text', { class: 'q-seg-text q-seg-text--' + part[0], x: x + width / 2, y: top + row / 2 + 4, 'text-anchor': 'middle', text: String(n) }));
        }
        x += width;
      });
    });
    var legend = h('ul', { class: 'q-legend', 'aria-hidden': 'true' }, parts.map(function (part) {
      return h('li', {}, [h('span', { class: 'q-swatch q-seg--' + part[0] }), part[1]]);
    }));
    return [chart, legend];
  }

  /* One of the service's tables (board.tables[name]) with its CSV link. columns: name -> [heading, format, numeric]. */
  function tableCard(board, name, title, columns, empty) {
    var table = board.tables[name];
    var heads = table.columns.map(function (c) { return columns[c] || [c]; });
    var body = table.rows.length ? table.rows.map(function (row) {
      return h('tr', {}, row.map(function (value, i) {
        var format = heads[i][1] || function (v) { return isNone(v) ? '—' : String(v); };
        return h('td', { class: heads[i][2] ? 'q-num' : null, text: format(value) });
      }));
    }) : [h('tr', {}, [h('td', { class: 'q-none', colspan: heads.length, text: empty })])];
    var id = 'q-table-' + name;
    return h('section', { class: 'c-card q-table-card', 'aria-labelledby': id, 'data-table': name }, [
      h('div', { class: 'q-card-head' }, [h('h3', { class: 'q-h3', id: id, text: title }), csvLink(name, title)]),
      h('div', { class: 'c-table-wrap' }, [h('table', { class: 'c-table q-table' }, [
        h('caption', { class: 'c-sr', text: title }),
        h('thead', {}, [h('tr', {}, heads.map(function (head) {
          return h('th', { scope: 'col', class: head[2] ? 'q-num' : null, text: head[0] });
        }))]),
        h('tbody', {}, body)
      ])])
    ]);
  }

  function fill(id, nodes) {
    var node = $(id);
    clear(node);
    nodes.forEach(function (n) { if (n) node.appendChild(n); });
  }

  // ------------------------------------------------------------------ sections
  function renderSatisfaction(b) {
    var s = b.satisfaction, days = b.trends.days;
    fill('satisfaction-kpis', [
      kpi('satisfaction_average', 'Average rating', isNone(s.average) ? '—' : stars(s.average) + ' / 5', plural(s.rated, 'rating', 'ratings')),
      kpi('satisfaction_response_rate', 'Response rate', percent(s.response_rate), count(s.rated) + ' of ' + plural(s.asked, 'survey', 'surveys') + ' answered'),
      kpi('satisfaction_agent', 'After an agent', stars(s.by_trigger.agent), 'average rating'),
      kpi('satisfaction_bot', 'After the assistant', stars(s.by_trigger.bot), 'average rating')
    ]);
    var tones = { 1: 'bad', 2: 'bad', 3: 'warn', 4: 'good', 5: 'good' };
    fill('satisfaction-charts', [
      card('Ratings given', [barsChart('Ratings given, 5 (best) to 1', 'ratings', ['5', '4', '3', '2', '1'].map(function (r) {
        return { label: 'Rating ' + r, value: s.distribution[r] || 0, tone: tones[r] };
      }), count)], 'satisfaction_distribution'),
      card('Average rating per day', [trendChart({
        title: 'Average rating per day', noun: 'ratings', days: days, values: b.trends.satisfaction, kind: 'line',
        format: stars, tick: String, ticks: [0, 1, 2, 3, 4, 5]
      })])
    ]);
    fill('satisfaction-tables', [tableCard(b, 'satisfaction_comments', 'Latest comments', {
      rated_at: ['Rated', dateTime], rating: ['Rating', null, true], channel: ['Channel', function (v) { return label(CHANNELS, v); }],
      language: ['Language', function (v) { return label(LANGUAGES, v); }], trigger: ['After', function (v) { return label(TRIGGERS, v); }],
      comment: ['Comment']
    }, 'No comments in this period.')]);
  }

  function renderSpeed(b) {
    var s = b.speed;
    function sub(spread, noun) { return 'p95 ' + seconds(spread.p95) + ' · ' + count(spread.count) + ' ' + noun; }
    fill('speed-kpis', [
      kpi('assistant_reply_p50', 'Assistant reply (p50)', seconds(s.assistant_reply.p50), sub(s.assistant_reply, 'replies')),
      kpi('human_wait_p50', 'Waiting for an agent (p50)', seconds(s.human_wait.p50),
        sub(s.human_wait, 'claimed') + ' · ' + count(s.not_claimed) + ' never claimed'),
      kpi('first_human_reply_p50', 'First agent reply (p50)', seconds(s.first_human_reply.p50),
        sub(s.first_human_reply, 'conversations') + ' · from the request'),
      kpi('email_acknowledgement_p50', 'Email acknowledgement (p50)', seconds(s.email_acknowledgement.p50),
        sub(s.email_acknowledgement, 'emails') + ' · ' + percent(s.email_acknowledgement.within_minute) + ' within 1 min')
    ]);
  }

  function renderAccuracy(b) {
    var a = b.accuracy, t = b.trends;
    var reasons = Object.keys(a.handoffs_by_reason);
    fill('accuracy-kpis', [
      kpi('customer_messages', 'Customer messages', count(a.customer_messages), count(a.judged) + ' judged by the assistant'),
      kpi('understood_rate', 'Understood', percent(a.understood_rate), count(a.understood) + ' of ' + count(a.judged) + ' judged'),
      kpi('fallback_rate', 'Fallback rate', percent(a.fallback_rate), plural(a.fallback, 'fallback', 'fallbacks')),
      kpi('handoffs', 'Handoffs to agents', count(a.handoffs),
        reasons.length ? 'most often: ' + label(REASONS, reasons[0]).toLowerCase() : 'none in this period')
    ]);
    fill('accuracy-charts', [
      card('Customer messages per day', [trendChart({
        title: 'Customer messages per day', noun: 'customer messages', days: t.days, values: t.customer_messages, kind: 'bar',
        format: count, tick: count, whole: true
      })]),
      card('Fallback rate per day', [trendChart({
        title: 'Fallback rate per day', noun: 'judged messages', days: t.days, values: t.fallback_rate, kind: 'line',
        format: percent, tick: function (v) { return Number((v * 100).toFixed(1)) + '%'; }, top: 1
      })]),
      card('Why conversations went to agents', [barsChart('Handoffs to agents by reason', 'handoffs', reasons.map(function (r) {
        return { label: label(REASONS, r), value: a.handoffs_by_reason[r] };
      }), count)]),
      tableCard(b, 'handoffs_by_reason', 'Handoffs by reason', {
        reason: ['Reason', function (v) { return label(REASONS, v); }], count: ['Handoffs', count, true]
      }, 'No handoffs in this period.')
    ]);
    fill('accuracy-tables', [
      tableCard(b, 'top_misunderstood', 'Top misunderstood messages', {
        text: ['Message (personal numbers masked)'], count: ['Times', count, true], last_intent: ['Last intent'],
        last_confidence: ['Last confidence', function (v) { return isNone(v) ? '—' : Number(v).toFixed(2); }, true]
      }, 'Every judged message was understood.')
    ]);
  }

  function renderCompliance(b) {
    var c = b.compliance, by = c.credential_requests_by || {};
    fill('compliance-kpis', [
      kpi('disclosure_rate', 'Risk disclosure carried', percent(c.disclosure_rate),
        count(c.with_disclosure) + ' of ' + plural(c.product_answers, 'product or market answer', 'product and market answers'),
        rateTone(c.disclosure_rate)),
      kpi('credential_requests', 'Password or code requests', count(c.credential_requests),
        c.credential_requests ? 'by the assistant ' + count(by.bot || 0) + ' · by agents ' + count(by.agent || 0) : 'none, as required',
        c.credential_requests ? 'bad' : 'good')
    ]);
    fill('compliance-charts', [
      card('Complaints inside each deadline', deadlinesChart('Complaint deadlines: met, missed and pending', c.complaint_deadlines)),
      tableCard(b, 'complaint_deadlines', 'Complaint deadlines', {
        deadline: ['Deadline', function (v) { return label(DEADLINES, v); }], met: ['Met', count, true], missed: ['Missed', count, true],
        pending: ['Pending', count, true], rate: ['Met rate', percent, true]
      }, 'No complaints in this period.')
    ]);
  }

  function renderComplaints(b) {
    var k = b.complaints, t = b.trends;
    fill('complaints-kpis', [
      kpi('complaints_received', 'Complaints received', count(k.received), count(k.open) + ' still open'),
      kpi('complaints_acknowledged', 'Acknowledged within 24 h', percent(k.first_reply_in_24h.rate), statusLine(k.first_reply_in_24h),
        rateTone(k.first_reply_in_24h.rate)),
      kpi('complaints_resolved', 'Resolved within 5/10 working days', percent(k.resolved_in_time.rate), statusLine(k.resolved_in_time),
        rateTone(k.resolved_in_time.rate)),
      kpi('complaints_regulatory', 'Regulatory decision within 15 days', percent(k.regulatory.rate), statusLine(k.regulatory),
        rateTone(k.regulatory.rate)),
      kpi('complaints_overdue', 'Overdue now', count(k.overdue_now), 'open complaints past a deadline', k.overdue_now ? 'bad' : 'good')
    ]);
    var categories = Object.keys(k.by_category);
    fill('complaints-charts', [
      card('Complaints received per day', [trendChart({
        title: 'Complaints received per day', noun: 'complaints', days: t.days, values: t.complaints, kind: 'bar',
        format: count, tick: count, whole: true
      })]),
      card('Complaints by category', [barsChart('Complaints by category', 'complaints', categories.map(function (name) {
        return { label: label(CATEGORIES, name), value: k.by_category[name] };
      }), count)])
    ]);
  }

  // ------------------------------------------------------------------ early warnings and review
  var DIMENSIONS = { category: 'Complaint category', product: 'Product' };
  var REVIEW_REASONS = {
    fallback: 'Not understood', out_of_scope: 'Out of scope', low_confidence: 'Low confidence',
    before_handoff: 'Before a handoff'
  };
  var reviewStatus = $('review-status');

  function loadWarnings() {
    getJSON('/quality/warnings').then(function (data) {
      var body = data.warnings.length ? h('div', { class: 'c-table-wrap' }, [h('table', { class: 'c-table q-table' }, [
        h('caption', { class: 'c-sr', text: 'Early warnings' }),
        h('thead', {}, [h('tr', {}, ['What', 'Complaints, last ' + data.days + ' days', 'Per day', 'Usual per day']
          .map(function (head, i) { return h('th', { scope: 'col', class: i ? 'q-num' : null, text: head }); }))]),
        h('tbody', {}, data.warnings.map(function (w) {
          var what = label(DIMENSIONS, w.dimension) + ': ' + (w.dimension === 'category' ? label(CATEGORIES, w.value) : w.value);
          return h('tr', { 'data-warning': w.dimension + ':' + w.value }, [
            h('td', {}, [h('span', { class: 'c-badge c-badge--urgent', text: 'Above usual' }), ' ', what]),
            h('td', { class: 'q-num', text: count(w.recent) }),
            h('td', { class: 'q-num', text: w.recent_per_day.toFixed(1) }),
            h('td', { class: 'q-num', text: w.usual_per_day.toFixed(1) })
          ]);
        }))
      ])]) : h('p', { class: 'c-card q-empty-card', text: 'No complaint category or product is well above its usual level.' });
      fill('warnings-body', [body]);
    }, failed);
  }

  // Switching "Show" quickly sends several requests; only the latest one's answer is shown, so a slow
  // earlier answer cannot bring back rows the supervisor has just filtered away.
  var reviewRequest = 0;

  function loadReview() {
    var params = query(applied) + '&status=' + encodeURIComponent(reviewStatus.value);
    var request = ++reviewRequest;
    getJSON('/quality/review?' + params).then(function (data) {
      if (request === reviewRequest) renderReview(data);
    }, failed);
  }

  function renderReview(data) {
    if (!data.items.length) {
      fill('review-body', [h('p', { class: 'c-card q-empty-card', text: reviewStatus.value === 'unlabelled'
        ? 'Nothing to review in this period: every misunderstood message is labelled.' : 'No messages in this period.' })]);
      return;
    }
    var rows = data.items.map(function (item) {
      var choice = h('select', { class: 'c-input q-label-select', 'aria-label': 'What the customer meant: ' + item.text },
        [h('option', { value: '', text: 'Choose…' })].concat(data.intents.map(function (name) {
          return h('option', { value: name, text: name === 'ignore' ? 'ignore (noise, do not train)' : name,
            selected: name === item.label });
        })));
      var save = h('button', { class: 'c-btn c-btn--small c-btn--primary', type: 'button', text: 'Save' });
      var saved = h('span', { class: 'q-saved', role: 'status', text: item.label ? 'Labelled' : '' });
      save.addEventListener('click', function () {
        if (!choice.value) { choice.focus(); return; }
        save.disabled = true;
        call('POST', '/quality/review/' + item.message_id + '/label', { intent: choice.value }).then(function () {
          saved.textContent = 'Saved: ' + choice.value;
          row.setAttribute('data-label', choice.value);
        }, function (err) {
          if (err.status === 401) { location.replace('/console/'); return; }
          saved.textContent = err.message;
        }).then(function () { save.disabled = false; });
      });
      var row = h('tr', { 'data-message-id': item.message_id, 'data-label': item.label || '' }, [
        h('td', { text: dateTime(item.at) }),
        h('td', { text: label(CHANNELS, item.channel) }),
        h('td', { class: 'q-review-text', lang: item.language === 'en' ? 'en' : 'zh-CN', text: item.text }),
        h('td', { text: (item.intent || '—') + (isNone(item.confidence) ? '' : ' · ' + Number(item.confidence).toFixed(2)) }),
        h('td', { text: label(REVIEW_REASONS, item.reason) }),
        h('td', { class: 'q-label-cell' }, [choice, ' ', save, ' ', saved])
      ]);
      return row;
    });
    fill('review-body', [h('div', { class: 'c-table-wrap' }, [h('table', { class: 'c-table q-table q-review' }, [
      h('caption', { class: 'c-sr', text: 'Misunderstood messages' }),
      h('thead', {}, [h('tr', {}, ['When', 'Channel', 'Customer wrote', 'Assistant read', 'Why listed', 'Customer meant']
        .map(function (head) { return h('th', { scope: 'col', text: head }); }))]),
      h('tbody', {}, rows)
    ])])]);
  }

  reviewStatus.addEventListener('change', function () { if (applied) loadReview(); });

  function describeFilters(f) {
    return [
      f.from === f.to ? longDay(f.from) : longDay(f.from) + ' – ' + longDay(f.to),
      f.channel ? label(CHANNELS, f.channel) : 'all channels',
      f.queue ? label(QUEUES, f.queue) : 'all queues',
      f.language ? label(LANGUAGES, f.language) : 'all languages'
    ].join(' · ');
  }

  function render(board) {
    applied = board.filters;
    FILTERS.forEach(function (name) { inputs[name].value = applied[name] || ''; });
    el.period.textContent = describeFilters(applied);
    el.computed.textContent = 'Counted from the stored records at ' + dateTime(board.computed_at);
    renderSatisfaction(board);
    renderSpeed(board);
    renderAccuracy(board);
    renderCompliance(board);
    renderComplaints(board);
    loadWarnings();
    loadReview();
    Array.prototype.forEach.call(el.figures, function (node) { node.hidden = false; });
    history.replaceState(null, '', location.pathname + '?' + query(applied) + location.hash);
    el.status.textContent = 'Figures shown for ' + describeFilters(applied) + '.';
  }

  // ------------------------------------------------------------------ loading
  function showError(message) {
    el.error.textContent = message;
    el.error.hidden = !message;
  }

  function failed(err) {
    if (err.status === 401) {
      location.replace('/console/'); // log in there, then come back with the topbar link
      return;
    }
    el.boot.hidden = true;
    if (err.status === 403) {
      el.board.hidden = true;
      el.denied.hidden = false;
      document.title = 'Supervisors only — Quality dashboard — Evergreen Wealth';
      el.deniedTitle.focus();
      return;
    }
    el.board.hidden = false;
    showError(err.message);
  }

  function load(filters) {
    el.apply.disabled = true;
    el.board.setAttribute('aria-busy', 'true');
    showError('');
    return getJSON('/quality/dashboard?' + query(filters)).then(function (board) {
      el.boot.hidden = true;
      el.board.hidden = false;
      render(board);
    }, failed).then(function () {
      el.apply.disabled = false;
      el.board.removeAttribute('aria-busy');
    });
  }

  el.form.addEventListener('submit', function (event) {
    event.preventDefault();
    var filters = {};
    FILTERS.forEach(function (name) { filters[name] = inputs[name].value; });
    if (!filters.from || !filters.to) {
      showError('Please choose both dates of the period.');
      (filters.from ? inputs.to : inputs.from).focus();
      return;
    }
    if (filters.from > filters.to) {
      showError('The period ends before it starts: choose a “To” date on or after the “From” date.');
      inputs.to.focus();
      return;
    }
    el.status.textContent = 'Loading…';
    load(filters);
  });

  function start() {
    var params = new URLSearchParams(location.search), filters = {};
    FILTERS.forEach(function (name) { filters[name] = inputs[name].value = params.get(name) || ''; });
    getJSON('/me').then(function (me) {
      el.userName.textContent = me.staff.name || me.staff.id;
      el.userRole.textContent = me.staff.role === 'supervisor' ? 'Supervisor' : 'Agent';
      el.user.hidden = false;
      csrf = me.csrf_token;
      return getJSON('/channels');
    }).then(function (data) {
      data.channels.forEach(function (c) {
        CHANNELS[c.kind] = c.label;
        inputs.channel.appendChild(h('option', { value: c.kind, text: c.label }));
      });
      inputs.channel.value = filters.channel;
      return load(filters);
    }).then(null, failed);
  }

  start();
})();
