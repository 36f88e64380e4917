ok <- function() 1
broken <- function( {
}
