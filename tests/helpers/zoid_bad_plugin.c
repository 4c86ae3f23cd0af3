/*
 * A shared object that is not a ZOID plugin (no zoid_plugin_register): the daemon must refuse
 * to start with it in --plugin-dir, naming it.
 */
int zoid_not_a_plugin(void);
int zoid_not_a_plugin(void)
{
    return 0;
}
