export { ServicesStore, SERVICES_DATABASE } from './services-store.ts';
export type { ServicesStoreOptions } from './services-store.ts';
