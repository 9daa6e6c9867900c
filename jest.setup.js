// No test may reach a registry outside this machine: every kiln the tests run, in process or as a
// child process, contacts only registries on 127.0.0.1 (the ones the tests start themselves).
process.env.KILN_OFFLINE = '1';
