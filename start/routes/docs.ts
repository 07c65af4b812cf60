/*
| Routes of the docs area. Registered by start/routes.ts.
*/

export {}
