// The QR symbol drawn on the phone from the code's text (qrcode-generator, vendored from npm).
// As the issuer builds it (healthcode/qr.py): the `hc:/` prefix in a byte segment, the digits in
// a numeric segment, error correction M, a 4-module quiet zone.

import qrcode from '../vendor/qrcode.mjs';

const SVG = 'http://www.w3.org/2000/svg';
const QUIET = 4;

export function qrSvg(text) {
  const split = /^([^0-9]*(?:[0-9]+\/[0-9]+\/)?)([0-9]*)$/.exec(text);
  const symbol = qrcode(0, 'M');
  if (split && split[2]) {
    symbol.addData(split[1], 'Byte');
    symbol.addData(split[2], 'Numeric');
  } else {
    symbol.addData(text, 'Byte');
  }
  symbol.make();
  const count = symbol.getModuleCount();
  const size = count + 2 * QUIET;
  let path = '';
  for (let row = 0; row < count; row += 1) {
    for (let col = 0; col < count; col += 1) {
      if (symbol.isDark(row, col)) path += `M${col + QUIET} ${row + QUIET}h1v1h-1z`;
    }
  }
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('shape-rendering', 'crispEdges');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const background = document.createElementNS(SVG, 'rect');
  background.setAttribute('width', String(size));
  background.setAttribute('height', String(size));
  background.setAttribute('fill', '#fff');
  const modules = document.createElementNS(SVG, 'path');
  modules.setAttribute('d', path);
  modules.setAttribute('fill', '#000');
  svg.append(background, modules);
  return svg;
}
