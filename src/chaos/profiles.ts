// Profiles compress an experiment's time. Every duration in a template (the run, the actions,
// health-check intervals, the probe's cadence, stop conditions' windows) is multiplied by the
// profile's time scale, and every rate divided by it, so a shorter run sends as many requests
// as the article's. Client timeouts are not scaled: they stand for the customer's patience and
// the database's physics, which a profile does not change.

export interface Profile {
  name: ProfileName;
  timeScale: number;
  description: string;
}

export const PROFILE_NAMES = ['article', 'demo', 'quick'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  article: { name: 'article', timeScale: 1, description: "the articles' timings: 10 s health checks, 120 s runs" },
  // 0.08 keeps the whole suite (six experiments, thirteen runs) within 5 minutes on a 2-core
  // machine: Article 7's run alone is 350 s of the article's time in each of its three modes.
  demo: { name: 'demo', timeScale: 0.08, description: 'about a twelfth of the time, twelve times the rate: the whole suite in under 5 minutes' },
  quick: { name: 'quick', timeScale: 0.05, description: 'a twentieth of the time, for tests' },
};

/** The profile named `name`; undefined when there is none. */
export function profileNamed(name: string): Profile | undefined {
  return (PROFILE_NAMES as readonly string[]).includes(name) ? PROFILES[name as ProfileName] : undefined;
}
