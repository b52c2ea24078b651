// Saves a screenshot of a running web view (for the README), in Debian's Chromium:
//   npm start -- --demo            # in another terminal; wait for a few jobs
//   npx tsx scripts/screenshot-web-view.ts 'http://127.0.0.1:8300/?limit=4' docs/web-view.png
import { launchChromium } from "../test/helpers/browser.js";

const [url = "http://127.0.0.1:8300/", output = "docs/web-view.png"] = process.argv.slice(2);
const browser = await launchChromium();
try {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.goto(url);
  // Open the first error, as a reader would, so the screenshot shows one.
  await page.locator("details.error summary").first().click().catch(() => {});
  await page.screenshot({ path: output, fullPage: true });
  process.stdout.write(`saved ${output}\n`);
} finally {
  await browser.close();
}
