export { PostgresServer, POSTGRES_SUPERUSER, newPostgresPassword } from './postgres-server.ts';
export type { PostgresConnectionConfig, PostgresServerOptions, PostgresSettings, StopMode } from './postgres-server.ts';
export { findPostgresBinaries, binaryPackageName } from './binaries.ts';
export type { PostgresBinaries } from './binaries.ts';
export { postgresOsUser } from './os-user.ts';
export type { OsUser } from './os-user.ts';
