/* gossip-sim subcommands.  Each takes the arguments after its name
 * (argv[0] is the subcommand) and returns the process exit status. */
#ifndef GOSSIP_SIM_SIM_H
#define GOSSIP_SIM_SIM_H

int sim_cmd_rounds(int argc, char **argv); /* src/sim/cmd_rounds.c */
int sim_cmd_run(int argc, char **argv);    /* src/sim/cmd_run.c */

#endif
