// Plan forms: show as many share fields as the chosen breakdown has (12 months, 4 quarters, none).
(function () {
  var select = document.getElementById('breakdown');
  if (!select) return;
  function show() {
    var n = select.value === 'month' ? 12 : select.value === 'quarter' ? 4 : 0;
    for (var i = 1; i <= 12; i++) {
      var input = document.getElementById('share_' + i);
      if (input && input.closest('.mb-3')) input.closest('.mb-3').hidden = i > n;
    }
  }
  select.addEventListener('change', show);
  show();
})();
