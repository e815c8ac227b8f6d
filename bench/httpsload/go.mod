module envserve.local/httpsload

go 1.21
