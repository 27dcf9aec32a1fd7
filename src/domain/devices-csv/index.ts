export * from './parse.js';
export * from './validate.js';
export * from './merge.js';
export * from './paths.js';
export * from './hook-selection.js';
