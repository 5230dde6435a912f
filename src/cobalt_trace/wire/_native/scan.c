/* placeholder: replaced by the wire helper */
#include <Python.h>
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_scan", NULL, -1, NULL};
PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&mod); }
