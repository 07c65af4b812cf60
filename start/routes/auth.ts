/*
| Routes of the auth area. Registered by start/routes.ts.
*/

export {}
