/** The Prefect release the generated files and the baton_prefect wheel are written and tested for. */
export const PREFECT_VERSION = "3.9.1";
