/*!
 * Evergreen Wealth 长青财富 — the supervisors' quality dashboard (quality.html).
 *
 * Plain JavaScript, no build step; served by bot/console/pages.py under the
 * console's Content-Security-Policy; quality.html loads shared.js (the HTTP helper the front ends
 * share) and i18n.js (the supervisor's language: every visible text comes from its catalogue,
 * docs/console.md "Languages") before it. It reads /console/api/me and
 * /console/api/quality/dashboard (docs/console.md, "Quality dashboard") and shows the figures as
 * they come: nothing is estimated or recomputed here, only formatted ("—" for a figure that has
 * no value, percentages with one decimal). Every text goes on the page with textContent and
 * every chart is built from SVG elements (no innerHTML anywhere). The CSV links name the same
 * filters as the figures on the page.
 *
 * A 401 means nobody is logged in: off to the console's login page. A 403 means an agent:
 * "Supervisors only". Each section has its render function (renderSatisfaction, renderSpeed…)
 * drawing it from the last answer, so a change of language redraws the page in place.
 */
(function () {
  'use strict';

  var API = '/console/api';
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var FILTERS = ['from', 'to', 'channel', 'queue', 'language'];
  var LIST_DAYS = 31; // a chart's description lists every day up to this many, else sums up

  var Shared = window.EvergreenShared; // shared.js: the HTTP helper the pages share
  var I18n = window.EvergreenI18n; // i18n.js: the catalogue of the supervisor's language
  var t = I18n.t;
  var CHANNELS = {}; // kind -> {zh, en} names, from GET /console/api/channels (the installed channels)

  function $(id) { return document.getElementById(id); }
  var el = {
    boot: $('boot'), denied: $('denied'), deniedTitle: $('denied-title'), board: $('board'),
    user: $('user'), userName: $('user-name'), userRole: $('user-role'), languageSelect: $('language-select'),
    period: $('board-period'), computed: $('computed'), form: $('filters'), apply: $('apply'),
    error: $('error'), status: $('status'), figures: document.querySelectorAll('.q-toc, .q-section')
  };
  var inputs = {};
  FILTERS.forEach(function (name) { inputs[name] = $('f-' + name); });
  var applied = null; // the filters of the figures on the page, as the service answered them
  var csrf = null; // from /console/api/me, for labelling and the language (in memory only)
  var me = null; // the supervisor, from /console/api/me
  var board = null; // the last dashboard answer, drawn again when the language changes
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
  function channelName(kind) {
    var names = CHANNELS[kind];
    return isNone(kind) ? '—' : names ? names[I18n.language] || names.en || kind : String(kind);
  }
  function isNone(value) { return value === null || value === undefined; }
  function count(n) { return isNone(n) ? '—' : I18n.number(n); }
  function percent(rate) { return isNone(rate) ? '—' : (rate * 100).toFixed(1) + '%'; }
  function stars(value) { return isNone(value) ? '—' : Number(value).toFixed(2); }
  function seconds(s) {
    if (isNone(s)) return '—';
    if (s < 60) return t('q.seconds', { seconds: s.toFixed(1) });
    var whole = Math.round(s);
    var m = Math.floor(whole / 60);
    if (m < 60) return t('q.minutes_seconds', { minutes: m, seconds: pad(whole % 60) });
    return t('wait.hours', { hours: Math.floor(m / 60), minutes: pad(m % 60) });
  }
  function level(s) {
    var whole = Math.round(s);
    return whole % 60 ? t('sla.level.seconds', { seconds: whole }) : t('sla.level.minutes', { minutes: whole / 60 });
  }
    function pad(n) { return (n < 10 ? '0' : '') + n; }
  function day(iso) { return String(iso).slice(5); } // "2026-11-30" -> "11-30" (a Beijing date as the service sent it)
  function longDay(iso) { return String(iso); }
  var dateTime = I18n.dateTime;
  // key.one / key.many of the catalogue, with {count}
  function plural(n, key) { return t(key + (n === 1 ? '.one' : '.many'), { count: count(n) }); }

  // ------------------------------------------------------------------ HTTP
  function getJSON(path) { return call('GET', path); }
  function call(method, path, body) {
    return Shared.request(method, API + path, body, {
      headers: method !== 'GET' && csrf ? { 'X-CSRF-Token': csrf } : null
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
      download: true, 'data-table': table, 'aria-label': t('q.csv.download', { title: title }), text: t('q.csv')
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
  function statusLine(d) { return t('q.status_line', { met: count(d.met), missed: count(d.missed), pending: count(d.pending) }); }

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
    if (!known.length) return t('q.chart.none', { noun: noun });
    if (days.length <= LIST_DAYS) {
      return days.map(function (d, i) { return day(d) + ': ' + (isNone(values[i]) ? t('q.chart.no_value') : format(values[i])); }).join('; ');
    }
    var top = Math.max.apply(null, known);
    return t('q.chart.summary', { known: known.length, days: days.length, noun: noun, top: format(top), day: day(days[values.indexOf(top)]) });
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
      chart.appendChild(svg('text', { class: 'q-empty', x: L + pw / 2, y: T + ph / 2, 'text-anchor': 'middle', text: t('q.chart.none', { noun: o.noun }) }));
    }
    return chart;
  }

  /* Horizontal bars, one per item: [{label, value, tone}], longest bar = largest value. */
  function barsChart(title, noun, items, format) {
    var longest = Math.max.apply(null, items.map(function (item) { return item.label.length; }).concat([4]));
    var W = 560, L = Math.min(Math.max(longest * 7 + 20, 70), 230), R = 56, row = 30, T = 6;
    var H = T * 2 + row * Math.max(items.length, 1);
    var total = items.reduce(function (sum, item) { return sum + item.value; }, 0);
    var description = total ? items.map(function (item) { return item.label + ': ' + format(item.value); }).join('; ')
      : t('q.chart.none', { noun: noun });
    var chart = chartSvg('bars', W, H, title, description);
    if (!total) {
      chart.appendChild(svg('text', { class: 'q-empty', x: W / 2, y: H / 2 + 4, 'text-anchor': 'middle', text: t('q.chart.none', { noun: noun }) }));
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
    var parts = [['met', t('q.deadline.met')], ['missed', t('q.deadline.missed')], ['pending', t('q.deadline.pending')]];
    var names = Object.keys(deadlines);
    var W = 560, L = 230, R = 14, row = 34, T = 6, H = T * 2 + row * names.length;
    var total = names.reduce(function (sum, name) { var d = deadlines[name]; return sum + d.met + d.missed + d.pending; }, 0);
    var description = total ? names.map(function (name) { return I18n.label('q.deadline', name) + ': ' + statusLine(deadlines[name]); }).join('; ')
      : t('q.chart.none', { noun: t('q.noun.complaints') });
    var chart = chartSvg('deadlines', W, H, title, description);
    if (!total) {
      chart.appendChild(svg('text', { class: 'q-empty', x: L + (W - L - R) / 2, y: H / 2 + 4, 'text-anchor': 'middle', text: t('q.chart.none', { noun: t('q.noun.complaints') }) }));
    }
    names.forEach(function (name, i) {
      var d = deadlines[name], all = d.met + d.missed + d.pending, top = T + i * row, x = L;
      chart.appendChild(svg('text', { class: 'q-label', x: L - 10, y: top + row / 2 + 4, 'text-anchor': 'end', text: I18n.label('q.deadline', name) }));
      if (!all) return;
      parts.forEach(function (part) {
        var n = d[part[0]];
        if (!n) return;
        var width = (W - L - R) * n / all;
        chart.appendChild(svg('rect', {
          class: 'q-seg q-seg--' + part[0], x: x, y: top + 7, width: width, height: row - 14,
          'data-deadline': name, 'data-status': part[0], 'data-value': n
        }, [svg('title', { text: I18n.label('q.deadline', name) + ' — ' + part[1] + ': ' + n })]));
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

  /* One of the service's tables (answer.tables[name]) with its CSV link. columns: name -> [format, numeric];
     a column's heading is the catalogue's q.col.<table>.<column>, as in the CSV (bot/console/quality.py). */
  function tableCard(answer, name, title, columns, empty) {
    var table = answer.tables[name];
    var specs = table.columns.map(function (c) { return columns[c] || []; });
    var body = table.rows.length ? table.rows.map(function (row) {
      return h('tr', {}, row.map(function (value, i) {
        var format = specs[i][0] || function (v) { return isNone(v) ? '—' : String(v); };
        return h('td', { class: specs[i][1] ? 'q-num' : null, text: format(value) });
      }));
    }) : [h('tr', {}, [h('td', { class: 'q-none', colspan: specs.length, text: empty })])];
    var id = 'q-table-' + name;
    return h('section', { class: 'c-card q-table-card', 'aria-labelledby': id, 'data-table': name }, [
      h('div', { class: 'q-card-head' }, [h('h3', { class: 'q-h3', id: id, text: title }), csvLink(name, title)]),
      h('div', { class: 'c-table-wrap' }, [h('table', { class: 'c-table q-table' }, [
        h('caption', { class: 'c-sr', text: title }),
        h('thead', {}, [h('tr', {}, table.columns.map(function (column, i) {
          return h('th', { scope: 'col', class: specs[i][1] ? 'q-num' : null, text: I18n.label('q.col.' + name, column) });
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
      kpi('satisfaction_average', t('q.kpi.average_rating'), isNone(s.average) ? '—' : stars(s.average) + ' / 5', plural(s.rated, 'q.n.ratings')),
      kpi('satisfaction_response_rate', t('q.kpi.response_rate'), percent(s.response_rate),
        t('q.kpi.surveys_answered', { rated: count(s.rated), asked: plural(s.asked, 'q.n.surveys') })),
      kpi('satisfaction_agent', t('q.kpi.after_agent'), stars(s.by_trigger.agent), t('q.kpi.average_rating_sub')),
      kpi('satisfaction_bot', t('q.kpi.after_bot'), stars(s.by_trigger.bot), t('q.kpi.average_rating_sub'))
    ]);
    var tones = { 1: 'bad', 2: 'bad', 3: 'warn', 4: 'good', 5: 'good' };
    fill('satisfaction-charts', [
      card(t('q.chart.ratings'), [barsChart(t('q.chart.ratings_title'), t('q.noun.ratings'), ['5', '4', '3', '2', '1'].map(function (r) {
        return { label: t('q.chart.rating', { rating: r }), value: s.distribution[r] || 0, tone: tones[r] };
      }), count)], 'satisfaction_distribution'),
      card(t('q.chart.rating_per_day'), [trendChart({
        title: t('q.chart.rating_per_day'), noun: t('q.noun.ratings'), days: days, values: b.trends.satisfaction, kind: 'line',
        format: stars, tick: String, ticks: [0, 1, 2, 3, 4, 5]
      })])
    ]);
    fill('satisfaction-tables', [tableCard(b, 'satisfaction_comments', t('q.table.satisfaction_comments'), {
      rated_at: [dateTime], rating: [null, true], channel: [channelName],
      language: [function (v) { return I18n.label('language', v); }], trigger: [function (v) { return I18n.label('q.trigger', v); }],
      comment: []
    }, t('q.empty.comments'))]);
  }

  function renderSpeed(b) {
    var s = b.speed;
    function sub(spread, key) { return t('q.kpi.p95', { p95: seconds(spread.p95), counted: plural(spread.count, key) }); }
    fill('speed-kpis', [
      kpi('assistant_reply_p50', t('q.kpi.assistant_reply'), seconds(s.assistant_reply.p50), sub(s.assistant_reply, 'q.n.replies')),
      kpi('human_wait_p50', t('q.kpi.human_wait'), seconds(s.human_wait.p50),
        sub(s.human_wait, 'q.n.claimed') + ' · ' + t('q.kpi.never_claimed', { count: count(s.not_claimed) })),
      kpi('first_human_reply_p50', t('q.kpi.first_human_reply'), seconds(s.first_human_reply.p50),
        sub(s.first_human_reply, 'q.n.conversations') + ' · ' + t('q.kpi.from_request')),
      kpi('email_acknowledgement_p50', t('q.kpi.email_acknowledgement'), seconds(s.email_acknowledgement.p50),
        sub(s.email_acknowledgement, 'q.n.emails') + ' · ' + t('q.kpi.within_minute', { rate: percent(s.email_acknowledgement.within_minute) })),
      // Waiting honestly (docs/console.md "Honest waiting"): waits beyond the service level, and
      // the customers who chose a message or a callback instead of waiting on.
      kpi('waits_over_service_level', t('sla.q.waits_over', { level: level(s.wait_service_level_seconds) }), count(s.waits_over_service_level),
        t('sla.q.waits_over_sub', { level: level(s.wait_service_level_seconds) }), s.waits_over_service_level ? 'warn' : null),
      kpi('left_messages', t('sla.q.left_messages'), count(s.left_messages), t('sla.q.left_messages_sub')),
      kpi('callbacks_instead', t('sla.q.callbacks'), count(s.callbacks_instead), t('sla.q.callbacks_sub'))
    ]);
  }

  function renderAccuracy(b) {
    var a = b.accuracy, tr = b.trends;
    var reasons = Object.keys(a.handoffs_by_reason);
    fill('accuracy-kpis', [
      kpi('customer_messages', t('q.kpi.customer_messages'), count(a.customer_messages), t('q.kpi.judged', { count: count(a.judged) })),
      kpi('understood_rate', t('q.kpi.understood'), percent(a.understood_rate),
        t('q.kpi.understood_of', { understood: count(a.understood), judged: count(a.judged) })),
      kpi('fallback_rate', t('q.kpi.fallback_rate'), percent(a.fallback_rate), plural(a.fallback, 'q.n.fallbacks')),
      kpi('handoffs', t('q.kpi.handoffs'), count(a.handoffs),
        reasons.length ? t('q.kpi.most_often', { reason: I18n.label('reason', reasons[0]) }) : t('q.kpi.none_in_period'))
    ]);
    fill('accuracy-charts', [
      card(t('q.chart.messages_per_day'), [trendChart({
        title: t('q.chart.messages_per_day'), noun: t('q.noun.customer_messages'), days: tr.days, values: tr.customer_messages, kind: 'bar',
        format: count, tick: count, whole: true
      })]),
      card(t('q.chart.fallback_per_day'), [trendChart({
        title: t('q.chart.fallback_per_day'), noun: t('q.noun.judged_messages'), days: tr.days, values: tr.fallback_rate, kind: 'line',
        format: percent, tick: function (v) { return Number((v * 100).toFixed(1)) + '%'; }, top: 1
      })]),
      card(t('q.chart.why_handoffs'), [barsChart(t('q.chart.handoffs_by_reason'), t('q.noun.handoffs'), reasons.map(function (r) {
        return { label: I18n.label('reason', r), value: a.handoffs_by_reason[r] };
      }), count)]),
      tableCard(b, 'handoffs_by_reason', t('q.table.handoffs_by_reason'), {
        reason: [function (v) { return I18n.label('reason', v); }], count: [count, true]
      }, t('q.empty.handoffs'))
    ]);
    fill('accuracy-tables', [
      tableCard(b, 'top_misunderstood', t('q.table.top_misunderstood'), {
        text: [], count: [count, true], last_intent: [],
        last_confidence: [function (v) { return isNone(v) ? '—' : Number(v).toFixed(2); }, true]
      }, t('q.empty.misunderstood'))
    ]);
  }

  function renderCompliance(b) {
    var c = b.compliance, by = c.credential_requests_by || {};
    var promises = c.promises_of_returns_by || {}, overridden = c.agent_overrides_by_rule || {};
    fill('compliance-kpis', [
      kpi('disclosure_rate', t('q.kpi.disclosure'), percent(c.disclosure_rate),
        t('q.kpi.disclosure_of', { count: count(c.with_disclosure), answers: plural(c.product_answers, 'q.n.product_answers') }),
        rateTone(c.disclosure_rate)),
      kpi('credential_requests', t('q.kpi.credential_requests'), count(c.credential_requests),
        c.credential_requests ? t('q.kpi.credential_by', { bot: count(by.bot || 0), agent: count(by.agent || 0) }) : t('q.kpi.credential_none'),
        c.credential_requests ? 'bad' : 'good'),
      kpi('promises_of_returns', t('overrides.kpi_promises'), count(c.promises_of_returns),
        c.promises_of_returns ? t('q.kpi.credential_by', { bot: count(promises.bot || 0), agent: count(promises.agent || 0) })
          : t('q.kpi.credential_none'), c.promises_of_returns ? 'bad' : 'good'),
      kpi('agent_overrides', t('overrides.kpi'), count(c.agent_overrides), Object.keys(overridden).length
        ? Object.keys(overridden).map(function (rule) {
          return t('overrides.rule_count', { rule: I18n.label('overrides.rule', rule), count: count(overridden[rule]) });
        }).join(' · ') : t('q.kpi.none_in_period'), c.agent_overrides ? 'warn' : null)
    ]);
    fill('compliance-charts', [
      card(t('q.chart.deadlines'), deadlinesChart(t('q.chart.deadlines_title'), c.complaint_deadlines)),
      tableCard(b, 'complaint_deadlines', t('q.table.complaint_deadlines'), {
        deadline: [function (v) { return I18n.label('q.deadline', v); }], met: [count, true], missed: [count, true],
        pending: [count, true], rate: [percent, true]
      }, t('q.empty.complaints'))
    ]);
  }

  function renderComplaints(b) {
    var k = b.complaints, tr = b.trends;
    fill('complaints-kpis', [
      kpi('complaints_received', t('q.kpi.complaints_received'), count(k.received), t('q.kpi.still_open', { count: count(k.open) })),
      kpi('complaints_acknowledged', t('q.deadline.first_reply'), percent(k.first_reply_in_24h.rate), statusLine(k.first_reply_in_24h),
        rateTone(k.first_reply_in_24h.rate)),
      kpi('complaints_resolved', t('q.deadline.resolution'), percent(k.resolved_in_time.rate), statusLine(k.resolved_in_time),
        rateTone(k.resolved_in_time.rate)),
      kpi('complaints_regulatory', t('q.deadline.regulatory'), percent(k.regulatory.rate), statusLine(k.regulatory),
        rateTone(k.regulatory.rate)),
      kpi('complaints_overdue', t('q.kpi.overdue'), count(k.overdue_now), t('q.kpi.overdue_sub'), k.overdue_now ? 'bad' : 'good')
    ]);
    var categories = Object.keys(k.by_category);
    fill('complaints-charts', [
      card(t('q.chart.complaints_per_day'), [trendChart({
        title: t('q.chart.complaints_per_day'), noun: t('q.noun.complaints'), days: tr.days, values: tr.complaints, kind: 'bar',
        format: count, tick: count, whole: true
      })]),
      card(t('q.chart.by_category'), [barsChart(t('q.chart.by_category'), t('q.noun.complaints'), categories.map(function (name) {
        return { label: I18n.label('category', name), value: k.by_category[name] };
      }), count)])
    ]);
  }

  // ------------------------------------------------------------------ early warnings, overrides and review
  var reviewStatus = $('review-status');

  var warnings = null; // the last answers, drawn again when the language changes
  var overrides = null;
  var review = null;

  function loadWarnings() {
    getJSON('/quality/warnings').then(function (data) {
      warnings = data;
      renderWarnings(data);
    }, failed);
  }

  function renderWarnings(data) {
    var body = data.warnings.length ? h('div', { class: 'c-table-wrap' }, [h('table', { class: 'c-table q-table' }, [
      h('caption', { class: 'c-sr', text: t('q.warnings.title') }),
      h('thead', {}, [h('tr', {}, [t('q.warnings.what'), t('q.warnings.recent', { days: data.days }), t('q.warnings.per_day'),
        t('q.warnings.usual')]
        .map(function (head, i) { return h('th', { scope: 'col', class: i ? 'q-num' : null, text: head }); }))]),
      h('tbody', {}, data.warnings.map(function (w) {
        var what = I18n.label('q.dimension', w.dimension) + ': ' + (w.dimension === 'category' ? I18n.label('category', w.value) : w.value);
        return h('tr', { 'data-warning': w.dimension + ':' + w.value }, [
          h('td', {}, [h('span', { class: 'c-badge c-badge--urgent', text: t('q.warnings.above') }), ' ', what]),
          h('td', { class: 'q-num', text: count(w.recent) }),
          h('td', { class: 'q-num', text: w.recent_per_day.toFixed(1) }),
          h('td', { class: 'q-num', text: w.usual_per_day.toFixed(1) })
        ]);
      }))
    ])]) : h('p', { class: 'c-card q-empty-card', text: t('q.warnings.none') });
    fill('warnings-body', [body]);
  }

  // Replies agents sent despite the compliance guard, with their reason (docs/compliance.md), since
  // the first day of the period: the audit log's list, not a figure of the filters.
  var overridesRequest = 0;

  function loadOverrides() {
    var request = ++overridesRequest;
    getJSON('/overrides?since=' + encodeURIComponent(applied.from)).then(function (data) {
      if (request === overridesRequest) {
        overrides = data;
        renderOverrides(data);
      }
    }, failed);
  }

  function renderOverrides(data) {
    var day = longDay(String(data.since).slice(0, 10));
    var columns = ['at', 'by', 'conversation', 'rules', 'reason', 'text'];
    var body = data.overrides.length ? h('div', { class: 'c-table-wrap' }, [h('table', { class: 'c-table q-table q-overrides' }, [
      h('caption', { class: 'c-sr', text: t('overrides.title') }),
      h('thead', {}, [h('tr', {}, columns.map(function (name) {
        return h('th', { scope: 'col', text: t('overrides.col.' + name) });
      }))]),
      h('tbody', {}, data.overrides.map(function (o) {
        return h('tr', { 'data-override': o.message_id }, [
          h('td', { text: dateTime(o.at) }),
          h('td', { text: o.by }),
          h('td', { class: 'q-code', text: o.conversation_id }),
          h('td', { text: (o.rules || []).map(function (rule) { return I18n.label('overrides.rule', rule); }).join(', ') }),
          h('td', { class: 'q-review-text', text: o.reason || '—' }),
          h('td', { class: 'q-review-text', text: isNone(o.text) ? '—' : o.text })
        ]);
      }))
    ])]) : h('p', { class: 'q-none', text: t('overrides.none', { day: day }) });
    fill('compliance-overrides', [h('section', { class: 'c-card q-table-card', 'aria-labelledby': 'overrides-title' }, [
      h('div', { class: 'q-card-head' }, [h('h3', { class: 'q-h3', id: 'overrides-title', text: t('overrides.title') })]),
      h('p', { class: 'c-muted', text: t('overrides.intro', { day: day }) }),
      body
    ])]);
  }

  // Switching "Show" quickly sends several requests; only the latest one's answer is shown, so a slow
  // earlier answer cannot bring back rows the supervisor has just filtered away.
  var reviewRequest = 0;

  function loadReview() {
    var params = query(applied) + '&status=' + encodeURIComponent(reviewStatus.value);
    var request = ++reviewRequest;
    getJSON('/quality/review?' + params).then(function (data) {
      if (request === reviewRequest) {
        review = data;
        renderReview(data);
      }
    }, failed);
  }

  function renderReview(data) {
    if (!data.items.length) {
      fill('review-body', [h('p', { class: 'c-card q-empty-card', text: t(reviewStatus.value === 'unlabelled'
        ? 'q.review.nothing' : 'q.review.no_messages') })]);
      return;
    }
    var rows = data.items.map(function (item) {
      var choice = h('select', { class: 'c-input q-label-select', 'aria-label': t('q.review.meant_label', { text: item.text }) },
        [h('option', { value: '', text: t('q.review.choose') })].concat(data.intents.map(function (name) {
          return h('option', { value: name, text: name === 'ignore' ? t('q.review.ignore') : name,
            selected: name === item.label });
        })));
      var save = h('button', { class: 'c-btn c-btn--small c-btn--primary', type: 'button', text: t('q.review.save') });
      var saved = h('span', { class: 'q-saved', role: 'status', text: item.label ? t('q.review.labelled') : '' });
      save.addEventListener('click', function () {
        if (!choice.value) { choice.focus(); return; }
        save.disabled = true;
        call('POST', '/quality/review/' + item.message_id + '/label', { intent: choice.value }).then(function () {
          saved.textContent = t('q.review.saved', { intent: choice.value });
          item.label = choice.value;
          row.setAttribute('data-label', choice.value);
        }, function (err) {
          if (err.status === 401) { location.replace('/console/'); return; }
          saved.textContent = I18n.error(err);
        }).then(function () { save.disabled = false; });
      });
      var row = h('tr', { 'data-message-id': item.message_id, 'data-label': item.label || '' }, [
        h('td', { text: dateTime(item.at) }),
        h('td', { text: channelName(item.channel) }),
        h('td', { class: 'q-review-text', lang: item.language === 'en' ? 'en' : 'zh-CN', text: item.text }),
        h('td', { text: (item.intent || '—') + (isNone(item.confidence) ? '' : ' · ' + Number(item.confidence).toFixed(2)) }),
        h('td', { text: I18n.label('q.review.reason', item.reason) }),
        h('td', { class: 'q-label-cell' }, [choice, ' ', save, ' ', saved])
      ]);
      return row;
    });
    fill('review-body', [h('div', { class: 'c-table-wrap' }, [h('table', { class: 'c-table q-table q-review' }, [
      h('caption', { class: 'c-sr', text: t('q.review.caption') }),
      h('thead', {}, [h('tr', {}, ['when', 'channel', 'wrote', 'read', 'why', 'meant']
        .map(function (head) { return h('th', { scope: 'col', text: t('q.review.col.' + head) }); }))]),
      h('tbody', {}, rows)
    ])])]);
  }

  reviewStatus.addEventListener('change', function () { if (applied) loadReview(); });

  function describeFilters(f) {
    return [
      f.from === f.to ? longDay(f.from) : longDay(f.from) + ' – ' + longDay(f.to),
      f.channel ? channelName(f.channel) : t('q.filter.all_channels'),
      f.queue ? I18n.label('queue', f.queue) : t('q.filter.all_queues'),
      f.language ? I18n.label('language', f.language) : t('q.filter.all_languages')
    ].join(' · ');
  }

  // The figures of one answer of the service (board), without asking for anything.
  function draw(answer) {
    el.period.textContent = describeFilters(applied);
    el.computed.textContent = t('q.computed', { time: dateTime(answer.computed_at) });
    renderSatisfaction(answer);
    renderSpeed(answer);
    renderAccuracy(answer);
    renderCompliance(answer);
    renderComplaints(answer);
    el.status.textContent = t('q.status', { filters: describeFilters(applied) });
  }

  function render(answer) {
    board = answer;
    applied = answer.filters;
    FILTERS.forEach(function (name) { inputs[name].value = applied[name] || ''; });
    draw(answer);
    loadWarnings();
    loadOverrides();
    loadReview();
    Array.prototype.forEach.call(el.figures, function (node) { node.hidden = false; });
    history.replaceState(null, '', location.pathname + '?' + query(applied) + location.hash);
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
      document.title = t('page.denied');
      el.deniedTitle.focus();
      return;
    }
    el.board.hidden = false;
    showError(I18n.error(err));
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
      showError(t('q.filter.dates_missing'));
      (filters.from ? inputs.to : inputs.from).focus();
      return;
    }
    if (filters.from > filters.to) {
      showError(t('q.filter.dates_reversed'));
      inputs.to.focus();
      return;
    }
    el.status.textContent = t('q.loading');
    load(filters);
  });

  // ------------------------------------------------------------------ language
  function renderChannels() {
    var chosen = inputs.channel.value;
    Array.prototype.slice.call(inputs.channel.options, 1).forEach(function (option) { option.remove(); });
    Object.keys(CHANNELS).forEach(function (kind) {
      inputs.channel.appendChild(h('option', { value: kind, text: channelName(kind) }));
    });
    inputs.channel.value = chosen;
  }

  // Everything on the page again, in the language just chosen (I18n.use has applied the
  // catalogue's attributes), from the answers already here.
  function relabel() {
    if (me) el.userRole.textContent = t(me.role === 'supervisor' ? 'role.supervisor' : 'role.agent');
    renderChannels();
    if (!el.denied.hidden) document.title = t('page.denied');
    if (board) draw(board);
    if (warnings) renderWarnings(warnings);
    if (overrides) renderOverrides(overrides);
    if (review) renderReview(review);
  }
  I18n.onChange(relabel);

  el.languageSelect.addEventListener('change', function () {
    var language = el.languageSelect.value;
    el.languageSelect.disabled = true;
    I18n.use(language).then(function () {
      return call('PUT', '/me/language', { language: language });
    }).then(null, failed).then(function () {
      el.languageSelect.disabled = false;
      el.languageSelect.value = I18n.language;
    });
  });

  function start() {
    var params = new URLSearchParams(location.search), filters = {};
    FILTERS.forEach(function (name) { filters[name] = inputs[name].value = params.get(name) || ''; });
    I18n.use(I18n.browserLanguage()).then(function () {
      return getJSON('/me');
    }).then(function (answer) {
      me = answer.staff;
      csrf = answer.csrf_token;
      return I18n.use(me.language);
    }).then(function () {
      el.userName.textContent = me.name || me.id;
      el.languageSelect.value = I18n.language;
      el.user.hidden = false;
      relabel();
      return getJSON('/channels');
    }).then(function (data) {
      data.channels.forEach(function (c) { CHANNELS[c.kind] = c.labels || { en: c.label }; });
      renderChannels();
      inputs.channel.value = filters.channel;
      return load(filters);
    }).then(null, failed);
  }

  start();
})();
