module envserve.dev/traefiklogin

go 1.22
