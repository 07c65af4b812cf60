/*
| Routes of the catalog area. Registered by start/routes.ts.
*/

export {}
