module envserve.local/testsrv

go 1.21
