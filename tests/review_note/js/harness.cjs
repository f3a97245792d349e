// Draws MR-note Markdown as a reviewer sees it and reports what it measured, as JSON on stdout.
//
// In (a JSON file named by argv[2]): {chromium, mermaid, out, width, height, pages: [{name, markdown}]}.
// Markdown → HTML with markdown-it (CommonMark plus GFM tables and strikethrough, raw HTML kept as
// GitLab keeps <details>/<summary>); every ```mermaid fence is drawn by mermaid.js with GitLab's
// settings (strict security, HTML labels, diagrams scaled to the note's width). One browser for
// every page. Out, per page: whether the summary table shows before anything is opened, each
// diagram's source length, error and smallest effective font size, the page's widths, the smallest
// font size of visible text, and two screenshots in `out`: the first screen as the note opens, and
// the whole page with every section opened and every diagram drawn.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const MarkdownIt = require("markdown-it");
const { chromium } = require("playwright-core");

const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));

// GitLab's note styles, reduced to what decides layout and legibility.
const STYLE = `
body { margin: 0; font: 14px/1.5 "DejaVu Sans", sans-serif; color: #333238; }
.note { max-width: 1000px; margin: 16px auto; padding: 0 16px; overflow-wrap: break-word; }
table { display: block; overflow-x: auto; border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #dcdcde; padding: 4px 12px; }
pre { overflow-x: auto; background: #fbfafd; padding: 8px 12px; font: 13px/1.4 "DejaVu Sans Mono", monospace; }
code { font: 13px "DejaVu Sans Mono", monospace; }
.mermaid { overflow-x: auto; overflow-wrap: normal; } /* GitLab draws it in an iframe of its own */
`;

function html(markdown) {
  const md = new MarkdownIt("default", { html: true, linkify: false });
  const fence = md.renderer.rules.fence;
  md.renderer.rules.fence = (tokens, idx, options, env, self) => {
    const token = tokens[idx];
    if (token.info.trim() === "mermaid") {
      return `<div class="mermaid">${md.utils.escapeHtml(token.content)}</div>\n`;
    }
    return fence(tokens, idx, options, env, self);
  };
  return `<!doctype html><html><head><meta charset="utf-8"><style>${STYLE}</style></head>` +
    `<body><div class="note">${md.render(markdown)}</div></body></html>`;
}

// Runs in the page: is the first table in view with every <details> closed?
function summaryShows() {
  const table = document.querySelector("table");
  if (!table) return false;
  const box = table.getBoundingClientRect();
  return table.checkVisibility() && box.height > 0 && box.top < window.innerHeight;
}

// Runs in the page: draw each diagram, one at a time, and report on it.
async function drawAll() {
  window.mermaid.initialize({
    startOnLoad: false, securityLevel: "strict", flowchart: { useMaxWidth: true, htmlLabels: true },
  });
  const found = [];
  for (const element of document.querySelectorAll("div.mermaid")) {
    const source = element.textContent;
    const result = { length: source.length, error: null, svg: false, minFontPx: null, text: "", injected: 0 };
    try {
      await window.mermaid.run({ nodes: [element] });
    } catch (error) {
      result.error = String(error && error.message ? error.message : error);
    }
    const svg = element.querySelector("svg");
    result.svg = Boolean(svg) && !svg.querySelector(".error-icon");
    result.injected = element.querySelectorAll("img, script, iframe, a, object, embed").length;
    result.text = element.innerText.slice(0, 20000);
    if (svg) {
      // a label's size as read: its font size times the scale the SVG is drawn at
      const scale = svg.getBoundingClientRect().width / (svg.viewBox.baseVal.width || 1);
      result.drawnWidth = Math.round(svg.getBoundingClientRect().width);
      result.naturalWidth = Math.round(svg.viewBox.baseVal.width);
      for (const label of svg.querySelectorAll("span, text")) {
        if (!label.textContent.trim() || label.getBoundingClientRect().height === 0) continue;
        const px = parseFloat(getComputedStyle(label).fontSize) * scale;
        result.minFontPx = result.minFontPx === null ? px : Math.min(result.minFontPx, px);
      }
    }
    found.push(result);
  }
  return found;
}

// Runs in the page: the widest thing and the smallest visible text outside the diagrams.
function layout() {
  let minFontPx = null;
  let overflowing = [];
  for (const element of document.querySelectorAll(".note *")) {
    if (element.closest("svg") || !element.checkVisibility()) continue;
    const box = element.getBoundingClientRect();
    const scroller = element.parentElement.closest("pre, table, .mermaid");
    if (!scroller && box.right > window.innerWidth + 0.5) overflowing.push(element.tagName.toLowerCase());
    const ownText = [...element.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (ownText) {
      const px = parseFloat(getComputedStyle(element).fontSize);
      minFontPx = minFontPx === null ? px : Math.min(minFontPx, px);
    }
  }
  return {
    viewportWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    overflowing: [...new Set(overflowing)].sort(),
    minFontPx,
    syntaxErrorText: document.body.innerText.includes("Syntax error"),
  };
}

async function main() {
  const browser = await chromium.launch({ executablePath: job.chromium, args: ["--no-sandbox"] });
  const results = {};
  try {
    const page = await browser.newPage({ viewport: { width: job.width, height: job.height } });
    const errors = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    for (const { name, markdown } of job.pages) {
      errors.length = 0;
      await page.setContent(html(markdown));
      const summary = await page.evaluate(summaryShows);
      const firstScreen = path.join(job.out, `${name}-first.png`);
      await page.screenshot({ path: firstScreen });
      await page.evaluate(() => document.querySelectorAll("details").forEach((d) => { d.open = true; }));
      await page.addScriptTag({ path: job.mermaid });
      const diagrams = await page.evaluate(drawAll);
      const measured = await page.evaluate(layout);
      const screenshot = path.join(job.out, `${name}.png`);
      await page.screenshot({ path: screenshot, fullPage: true });
      results[name] = { summaryShows: summary, diagrams, ...measured, pageErrors: [...errors], screenshot, firstScreen };
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
