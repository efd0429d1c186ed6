export { PostgresServer, POSTGRES_SUPERUSER } from './postgres-server.ts';
export type { PostgresServerOptions, PostgresSettings, StopMode } from './postgres-server.ts';
export { findPostgresBinaries, binaryPackageName } from './binaries.ts';
export type { PostgresBinaries } from './binaries.ts';
export { postgresOsUser } from './os-user.ts';
export type { OsUser } from './os-user.ts';
