/**
 * The pull steps `prefect deploy` records for prefect.yaml when run in `deployedFrom`: the worker's
 * BATON_PROJECT_DIR (its own copy of the build), else that folder, becomes the working directory.
 */
export function expectedPullSteps(deployedFrom: string): unknown[] {
  return [
    {
      "prefect.deployments.steps.run_shell_script": {
        id: "baton-worker-dir",
        script: 'echo "${BATON_PROJECT_DIR:-$BATON_DEPLOYED_DIR}"',
        shell: true,
        env: { BATON_DEPLOYED_DIR: deployedFrom },
        stream_output: false,
      },
    },
    { "prefect.deployments.steps.set_working_directory": { directory: "{{ baton-worker-dir.stdout }}" } },
  ];
}
