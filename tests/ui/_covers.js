(selector) => {
  // The rectangle a picture is drawn in (object-fit and object-position applied), and every label, button,
  // link or visible status badge of its block whose box overlaps that rectangle.
  const box = (e) => { const b = e.getBoundingClientRect(); return {l: b.left, t: b.top, r: b.right, b: b.bottom}; };
  const block = document.querySelector(selector);
  const img = block && block.querySelector('img');
  if (!img || !img.naturalWidth) return null;
  const b = img.getBoundingClientRect(), cs = getComputedStyle(img);
  const px = (name) => parseFloat(cs[name]) || 0;
  const cw = img.clientWidth - px('paddingLeft') - px('paddingRight');
  const ch = img.clientHeight - px('paddingTop') - px('paddingBottom');
  let w = cw, h = ch;
  if (cs.objectFit === 'contain' || cs.objectFit === 'scale-down') {
    let s = Math.min(cw / img.naturalWidth, ch / img.naturalHeight);
    if (cs.objectFit === 'scale-down') s = Math.min(s, 1);
    w = img.naturalWidth * s; h = img.naturalHeight * s;
  } else if (cs.objectFit === 'none') { w = img.naturalWidth; h = img.naturalHeight; }
  const [fx, fy] = cs.objectPosition.split(' ').map((p) => parseFloat(p) / 100);
  const l = b.left + px('borderLeftWidth') + px('paddingLeft') + (cw - w) * fx;
  const t = b.top + px('borderTopWidth') + px('paddingTop') + (ch - h) * fy;
  const picture = {l, t, r: l + w, b: t + h};
  const covers = [];
  const parts = 'label, button, a, .icon-button-wrapper, [data-testid="status-tracker"]:not(.hide)';
  for (const e of block.querySelectorAll(parts)) {
    if (e.contains(img) || !e.getClientRects().length) continue;
    const r = box(e);
    const dx = Math.min(r.r, picture.r) - Math.max(r.l, picture.l), dy = Math.min(r.b, picture.b) - Math.max(r.t, picture.t);
    if (dx > 0 && dy > 0) covers.push({part: e.getAttribute('aria-label') || e.getAttribute('data-testid') || e.className,
                                       box: r, overlap: [Math.round(dx), Math.round(dy)]});
  }
  return {picture, covers};
}
