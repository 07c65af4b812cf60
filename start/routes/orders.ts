/*
| Routes of the orders area. Registered by start/routes.ts.
*/

export {}
