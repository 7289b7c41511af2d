// drawbridge console: renders /api/state (the server renders every message to
// HTML), sends commands, clicks and switches, and re-fetches on every event
// from /events. Plain ES2017, no dependencies.
(function () {
  'use strict';

  var STORE_KEY = 'drawbridge-console-user';
  var user = initialUser();
  var current = null; // the last state rendered
  var fetching = false;
  var again = false;
  var first = true;
  var pendingConfirm = null;
  var collapsed = {};
  var noticeTimer = null;

  function $(id) { return document.getElementById(id); }

  function initialUser() {
    var q = new URLSearchParams(window.location.search).get('user');
    if (q) { return q; }
    try { return window.localStorage.getItem(STORE_KEY) || ''; } catch (e) { return ''; }
  }

  function api(method, path, body) {
    var opts = { method: method, headers: {} };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (r) {
      return r.text().then(function (t) {
        var data = null;
        try { data = t ? JSON.parse(t) : null; } catch (e) { data = { error: t }; }
        if (!r.ok) {
          var err = new Error((data && data.error) || ('HTTP ' + r.status));
          err.data = data;
          throw err;
        }
        return data;
      });
    });
  }

  function notice(text) {
    var n = $('notice');
    n.textContent = text;
    n.hidden = false;
    n.setAttribute('data-notice', text);
    if (noticeTimer) { clearTimeout(noticeTimer); }
    noticeTimer = setTimeout(function () { n.hidden = true; }, 8000);
  }

  // refresh fetches the state; calls while one is in flight make one more.
  function refresh() {
    if (fetching) { again = true; return; }
    fetching = true;
    again = false;
    var asked = user;
    var q = asked ? '?user=' + encodeURIComponent(asked) : '';
    api('GET', 'api/state' + q).then(function (s) {
      if (user !== asked) { again = true; return; } // the user was switched meanwhile: that state is not theirs
      render(s);
    }, function (e) {
      notice('Cannot load the channel: ' + e.message);
    }).then(function () {
      fetching = false;
      if (again) { refresh(); }
    });
  }

  function render(s) {
    current = s;
    user = s.user.id; // the server's choice when the one asked for is unknown
    try { window.localStorage.setItem(STORE_KEY, user); } catch (e) { /* private mode */ }
    renderHeader(s);
    renderSwitches(s.switches);
    renderHints(s.hints);
    var scroller = $('scroller');
    var atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
    syncList($('messages'), s.timeline, function (el, entry) {
      var thread = el.querySelector('.thread');
      if (!thread) { return; }
      var replies = entry.replies || [];
      syncList(thread, replies, null);
      var label = el.querySelector('.thread-label');
      if (label) {
        label.setAttribute('data-count', String(replies.length));
        label.textContent = replies.length === 1 ? '1 reply' : replies.length + ' replies';
      }
      el.classList.toggle('collapsed', !!collapsed[entry.ts]);
    });
    if (atBottom || first) { scroller.scrollTop = scroller.scrollHeight; }
    first = false;
    document.body.setAttribute('data-empty', s.timeline.length ? '0' : '1');
    document.body.setAttribute('data-user', user);
    document.body.setAttribute('data-version', String(s.version));
    document.body.setAttribute('data-ready', '1');
  }

  function renderHeader(s) {
    $('channel-name').textContent = s.channel_name;
    $('channel-id').textContent = s.channel;
    document.title = '#' + s.channel_name + ' · drawbridge console';
    $('command-input').placeholder = 'Message #' + s.channel_name + ' (try ' + s.command + ' help)';
    var box = $('users');
    if (box.getAttribute('data-built') !== '1') {
      s.users.forEach(function (u) {
        var b = document.createElement('button');
        b.type = 'button';
        b.className = 'user';
        b.setAttribute('data-user-id', u.id);
        b.setAttribute('data-user-name', u.name);
        b.appendChild(document.createTextNode(u.name));
        if (u.role) {
          var r = document.createElement('span');
          r.className = 'role';
          r.textContent = u.role;
          b.appendChild(r);
        }
        box.appendChild(b);
      });
      box.setAttribute('data-built', '1');
    }
    Array.prototype.forEach.call(box.querySelectorAll('button.user'), function (b) {
      var on = b.getAttribute('data-user-id') === s.user.id;
      b.classList.toggle('active', on);
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
    });
    var cu = $('current-user');
    cu.textContent = s.user.name + (s.user.role ? ' (' + s.user.role + ')' : '');
    cu.setAttribute('data-user-id', s.user.id);
  }

  function renderSwitches(list) {
    var box = $('switches');
    if (box.getAttribute('data-built') !== '1') {
      if (!list.length) {
        var none = document.createElement('div');
        none.className = 'no-switches';
        none.textContent = 'No switches in this demo.';
        box.appendChild(none);
      }
      list.forEach(function (sw) {
        var wrap = document.createElement('div');
        wrap.className = 'switch';
        wrap.setAttribute('data-switch-name', sw.name);
        var label = document.createElement('label');
        var input = document.createElement('input');
        input.type = 'checkbox';
        input.setAttribute('data-switch', sw.name);
        label.appendChild(input);
        var name = document.createElement('span');
        name.textContent = sw.name;
        label.appendChild(name);
        wrap.appendChild(label);
        if (sw.help) {
          var help = document.createElement('span');
          help.className = 'help';
          help.textContent = sw.help;
          wrap.appendChild(help);
        }
        var err = document.createElement('span');
        err.className = 'switch-error';
        err.setAttribute('data-switch-error', sw.name);
        wrap.appendChild(err);
        box.appendChild(wrap);
      });
      box.setAttribute('data-built', '1');
    }
    list.forEach(function (sw) {
      var input = findSwitch(sw.name);
      if (input && input.getAttribute('data-busy') !== '1') {
        input.checked = sw.on;
        input.setAttribute('data-on', sw.on ? '1' : '0');
      }
    });
  }

  function findSwitch(name) {
    var inputs = $('switches').querySelectorAll('input[data-switch]');
    for (var i = 0; i < inputs.length; i++) {
      if (inputs[i].getAttribute('data-switch') === name) { return inputs[i]; }
    }
    return null;
  }

  function renderHints(hints) {
    var box = $('hints');
    if (box.getAttribute('data-built') === '1') { return; }
    hints.forEach(function (h) {
      var li = document.createElement('li');
      li.className = 'hint';
      li.innerHTML = h.html; // rendered and escaped by the server
      Array.prototype.forEach.call(li.querySelectorAll('code'), function (c) {
        if (c.textContent.charAt(0) === '/') {
          c.classList.add('fillable');
          c.title = 'Click to put it in the message box';
        }
      });
      box.appendChild(li);
    });
    if (!hints.length) { $('hints-panel').hidden = true; }
    box.setAttribute('data-built', '1');
  }

  // build turns server-rendered HTML (one element) into a node.
  function build(html) {
    var t = document.createElement('template');
    t.innerHTML = html.trim();
    var el = t.content.firstElementChild;
    el._html = html;
    return el;
  }

  // syncList makes container's children match entries ({key, html}) in
  // order, touching only what changed. A rebuilt message keeps its thread.
  function syncList(container, entries, each) {
    var old = {};
    Array.prototype.forEach.call(container.children, function (el) {
      var k = el.getAttribute('data-key');
      if (k) { old[k] = el; }
    });
    var prev = null;
    entries.forEach(function (entry) {
      var el = old[entry.key];
      if (el && el._html !== entry.html) {
        var fresh = build(entry.html);
        var oldThread = el.querySelector('.thread');
        var newThread = fresh.querySelector('.thread');
        if (oldThread && newThread) { newThread.parentNode.replaceChild(oldThread, newThread); }
        el.parentNode.replaceChild(fresh, el);
        el = fresh;
      } else if (!el) {
        el = build(entry.html);
      }
      delete old[entry.key];
      var want = prev ? prev.nextElementSibling : container.firstElementChild;
      if (want !== el) { container.insertBefore(el, want); }
      prev = el;
      if (each) { each(el, entry); }
    });
    Object.keys(old).forEach(function (k) { old[k].remove(); });
  }

  // --- what the user does ---

  function sendCommand(ev) {
    ev.preventDefault();
    var input = $('command-input');
    var text = input.value.trim();
    if (!text) { return; }
    var form = $('command-form');
    if (form.getAttribute('data-busy') === '1') { return; }
    form.setAttribute('data-busy', '1');
    api('POST', 'api/command', { user: user, text: text }).then(function () {
      if (input.value.trim() === text) { input.value = ''; }
    }, function (e) {
      notice('Could not send: ' + e.message);
    }).then(function () {
      form.removeAttribute('data-busy');
      refresh();
    });
  }

  function onClick(ev) {
    var target = ev.target;
    var userBtn = target.closest('#users button.user');
    if (userBtn) {
      switchUser(userBtn.getAttribute('data-user-id'));
      return;
    }
    var btn = target.closest('button[data-action-id]');
    if (btn && !btn.disabled) {
      var tmpl = btn.parentNode.querySelector('template.confirm');
      if (tmpl) {
        openConfirm(tmpl, function () { sendAction(btn); });
      } else {
        sendAction(btn);
      }
      return;
    }
    var toggle = target.closest('.thread-label');
    if (toggle) {
      var ts = toggle.getAttribute('data-thread-toggle');
      collapsed[ts] = !collapsed[ts];
      var art = toggle.closest('article');
      if (art) { art.classList.toggle('collapsed', !!collapsed[ts]); }
      return;
    }
    var code = target.closest('#hints code.fillable');
    if (code) {
      var input = $('command-input');
      input.value = code.textContent;
      input.focus();
    }
  }

  function switchUser(id) {
    if (!id || id === user) { return; }
    user = id;
    try { window.localStorage.setItem(STORE_KEY, id); } catch (e) { /* private mode */ }
    if (window.history && window.history.replaceState) {
      var u = new URL(window.location.href);
      u.searchParams.set('user', id);
      window.history.replaceState(null, '', u.toString());
    }
    refresh();
  }

  function sendAction(btn) {
    var body = {
      user: user,
      message_ts: btn.getAttribute('data-message-ts'),
      action_id: btn.getAttribute('data-action-id'),
      block_id: btn.getAttribute('data-block-id'),
      value: btn.getAttribute('data-value') || ''
    };
    var link = btn.getAttribute('data-url');
    if (link) { window.open(link, '_blank', 'noopener'); }
    btn.disabled = true;
    btn.setAttribute('data-busy', '1');
    api('POST', 'api/action', body).then(null, function (e) {
      notice('The click did not go through: ' + e.message);
    }).then(function () {
      btn.disabled = false;
      btn.removeAttribute('data-busy');
      refresh();
    });
  }

  function openConfirm(tmpl, onOK) {
    var c = tmpl.content;
    var part = function (sel) { var el = c.querySelector(sel); return el ? el.innerHTML : ''; };
    $('confirm-title').innerHTML = part('.c-title');
    $('confirm-text').innerHTML = part('.c-text');
    var ok = $('confirm-ok');
    ok.innerHTML = part('.c-ok');
    ok.className = 'btn ' + (tmpl.getAttribute('data-style') === 'danger' ? 'btn-danger' : 'btn-primary');
    $('confirm-cancel').innerHTML = part('.c-deny');
    pendingConfirm = onOK;
    var d = $('confirm-dialog');
    d.hidden = false;
    d.setAttribute('data-open', '1');
    ok.focus();
  }

  function closeConfirm(confirmed) {
    var d = $('confirm-dialog');
    if (d.hidden) { return; }
    d.hidden = true;
    d.setAttribute('data-open', '0');
    var f = pendingConfirm;
    pendingConfirm = null;
    if (confirmed && f) { f(); }
  }

  function onSwitch(ev) {
    var input = ev.target;
    if (!input.matches || !input.matches('input[data-switch]')) { return; }
    var name = input.getAttribute('data-switch');
    var on = input.checked;
    var wrap = input.closest('.switch');
    var err = wrap.querySelector('.switch-error');
    err.textContent = '';
    input.disabled = true;
    input.setAttribute('data-busy', '1');
    wrap.setAttribute('data-busy', '1');
    api('POST', 'api/switch', { name: name, on: on }).then(function () {
      input.setAttribute('data-on', on ? '1' : '0');
    }, function (e) {
      input.checked = !on;
      err.textContent = e.message;
    }).then(function () {
      input.disabled = false;
      input.removeAttribute('data-busy');
      wrap.removeAttribute('data-busy');
      refresh();
    });
  }

  // --- live updates ---

  function setLive(on) {
    var v = on ? 'on' : 'off';
    $('live').setAttribute('data-live', v);
    document.body.setAttribute('data-live', v);
  }

  function connect() {
    if (!window.EventSource) {
      setInterval(refresh, 2000);
      return;
    }
    var es = new EventSource('events');
    es.onopen = function () { setLive(true); };
    es.onmessage = function () { setLive(true); refresh(); };
    es.onerror = function () { setLive(false); }; // EventSource reconnects by itself
  }

  document.addEventListener('click', onClick);
  document.addEventListener('change', onSwitch);
  $('command-form').addEventListener('submit', sendCommand);
  $('confirm-ok').addEventListener('click', function () { closeConfirm(true); });
  $('confirm-cancel').addEventListener('click', function () { closeConfirm(false); });
  $('confirm-dialog').addEventListener('click', function (ev) {
    if (ev.target === ev.currentTarget) { closeConfirm(false); }
  });
  document.addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape') { closeConfirm(false); }
  });
  refresh();
  connect();
  setInterval(refresh, 15000); // a safety net if events stop
}());
