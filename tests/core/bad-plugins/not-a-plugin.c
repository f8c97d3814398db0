/* not-a-plugin.c: a shared object without a plugin descriptor. */
int not_a_plugin_symbol (void);

int
not_a_plugin_symbol (void)
{
  return 42;
}
