import { readFileSync } from 'node:fs';

/** The demos' stylesheet (style.css), served as /style.css by Express and Koa. */
export const styleSheet = readFileSync(new URL('./style.css', import.meta.url), 'utf8');
