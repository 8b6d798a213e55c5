// Opens an HTML report in Debian's headless Chromium (through puppeteer-core, no browser download) and
// prints what a person would see, as JSON: console errors and failed or external requests, and per
// chart its title, declared and drawn series, warning marks, and the share of inked pixels in its plot
// area (rendered, screenshotted, decoded). Also saves a full-page screenshot.
// Usage: node report_check.mjs REPORT.html SCREENSHOT.png
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { PNG } from 'pngjs';

const [file, shot] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage();
  const errors = [], external = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => errors.push('request failed: ' + r.url()));
  page.on('request', (r) => { if (!/^(file|data|about):/.test(r.url())) external.push(r.url()); });
  await page.setViewport({ width: 1400, height: 1000 });
  await page.goto('file://' + path.resolve(file), { waitUntil: 'load' });
  const charts = [];
  for (const el of await page.$$('svg.chart')) {
    const info = await el.evaluate((svg) => {
      const groups = [...svg.querySelectorAll('g.series')];
      return {
        title: svg.querySelector('title')?.textContent ?? '',
        declared: Number(svg.dataset.series),
        groups: groups.length,
        drawn: groups.filter((g) => g.querySelector('path, circle')).length,
        names: groups.map((g) => g.dataset.name),
        marks: svg.querySelectorAll('line.mark').length,
      };
    });
    // Ink of the series alone: the warning marks are hidden for the plot's screenshot.
    await el.evaluate((svg) => svg.querySelectorAll('g.mark').forEach((m) => { m.style.display = 'none'; }));
    const plot = await el.$('rect.plot');
    const png = PNG.sync.read(Buffer.from(await plot.screenshot()));
    let ink = 0, total = 0;
    for (let y = 3; y < png.height - 3; ++y)
      for (let x = 3; x < png.width - 3; ++x) {
        const i = (png.width * y + x) * 4;
        total += 1;
        if (Math.min(png.data[i], png.data[i + 1], png.data[i + 2]) < 200) ink += 1;  // gridlines are >= 229
      }
    info.ink = total ? ink / total : 0;
    await el.evaluate((svg) => svg.querySelectorAll('g.mark').forEach((m) => { m.style.display = ''; }));
    charts.push(info);
  }
  await page.screenshot({ path: shot, fullPage: true });
  console.log(JSON.stringify({ errors, external, charts }));
} finally {
  await browser.close();
}
