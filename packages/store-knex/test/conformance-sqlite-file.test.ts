import { conformance } from './conformance.js';

await conformance('sqlite file');
