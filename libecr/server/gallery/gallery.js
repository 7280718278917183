// The gallery's only script: search-as-you-type on the list, and copy
// buttons for pull commands. Pages work without it.
'use strict';
document.addEventListener('DOMContentLoaded', function () {
  var q = document.getElementById('q');
  var list = document.getElementById('repos');
  var none = document.getElementById('none');
  if (q && list) {
    q.addEventListener('input', function () {
      var needle = q.value.trim().toLowerCase();
      var shown = 0;
      list.querySelectorAll('li.card').forEach(function (li) {
        var hay = (li.getAttribute('data-search') || '').toLowerCase();
        var hit = needle === '' || hay.indexOf(needle) !== -1;
        li.hidden = !hit;
        if (hit) shown++;
      });
      if (none) none.hidden = shown !== 0;
    });
  }
  document.querySelectorAll('.pull').forEach(function (box) {
    var input = box.querySelector('input.pullcmd');
    var button = box.querySelector('button.copy');
    if (!input || !button) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      var text = input.value;
      button.setAttribute('data-copied', text);
      function done() { button.textContent = 'Copied'; }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () {
          input.select();
          document.execCommand('copy');
          done();
        });
      } else {
        input.select();
        document.execCommand('copy');
        done();
      }
    });
  });
});
