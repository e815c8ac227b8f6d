module envserve.local/rttload

go 1.21
